// The credentials pages' routes, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  {
    path: "/credentials",
    lazy: () => import("./CredentialsPage").then((module) => ({ Component: module.default })),
  },
];
