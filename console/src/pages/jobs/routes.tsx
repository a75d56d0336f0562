// The jobs pages' routes, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "/jobs", lazy: () => import("./JobsListPage").then((m) => ({ Component: m.default })) },
  { path: "/jobs/new", lazy: () => import("./JobEditorPage").then((m) => ({ Component: m.default })) },
  { path: "/jobs/import", lazy: () => import("./ImportPage").then((m) => ({ Component: m.default })) },
  { path: "/jobs/:id", lazy: () => import("./JobDetailPage").then((m) => ({ Component: m.default })) },
  { path: "/jobs/:id/edit", lazy: () => import("./JobEditorPage").then((m) => ({ Component: m.default })) },
  { path: "/jobs/:id/versions", lazy: () => import("./VersionsPage").then((m) => ({ Component: m.default })) },
];
