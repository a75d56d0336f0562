// The runs pages' routes, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "runs", lazy: () => import("./RunsPage").then((module) => ({ Component: module.default })) },
  { path: "runs/:id", lazy: () => import("./RunPage").then((module) => ({ Component: module.default })) },
  { path: "jobs/:id/launch", lazy: () => import("./LaunchPage").then((module) => ({ Component: module.default })) },
];
