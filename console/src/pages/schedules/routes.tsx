// The schedules pages' routes, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "/schedules", lazy: () => import("./SchedulesListPage").then((m) => ({ Component: m.default })) },
  { path: "/schedules/new", lazy: () => import("./ScheduleEditorPage").then((m) => ({ Component: m.default })) },
  { path: "/schedules/:id", lazy: () => import("./SchedulePage").then((m) => ({ Component: m.default })) },
  { path: "/schedules/:id/edit", lazy: () => import("./ScheduleEditorPage").then((m) => ({ Component: m.default })) },
];
