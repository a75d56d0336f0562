// The dashboard's route, mounted inside the shell by app/router.tsx (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "/dashboard", lazy: () => import("./DashboardPage").then((m) => ({ Component: m.default })) },
];
