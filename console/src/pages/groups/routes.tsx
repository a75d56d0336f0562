// The groups pages' routes, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  {
    path: "/groups",
    lazy: () => import("./GroupsPage").then((module) => ({ Component: module.default })),
  },
  {
    path: "/groups/:id",
    lazy: () => import("./GroupPage").then((module) => ({ Component: module.default })),
  },
];
