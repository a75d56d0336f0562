// The targets pages' routes, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  // create, edit and import
  {
    path: "/targets/new",
    lazy: () => import("./TargetForm").then((module) => ({ Component: module.default })),
  },
  {
    path: "/targets/import",
    lazy: () => import("./ImportPage").then((module) => ({ Component: module.default })),
  },
  {
    path: "/targets/:id/edit",
    lazy: () => import("./TargetForm").then((module) => ({ Component: module.default })),
  },
  // the list and a target's page (health checks, host keys, runs)
  {
    path: "/targets",
    lazy: () => import("./TargetsListPage").then((module) => ({ Component: module.default })),
  },
  {
    path: "/targets/:id",
    lazy: () => import("./TargetDetailPage").then((module) => ({ Component: module.default })),
  },
];
