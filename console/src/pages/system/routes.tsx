// The System page's route, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  {
    path: "/system",
    lazy: () => import("./SystemPage").then((module) => ({ Component: module.default })),
  },
];
