// The migration progress page's route, mounted inside the shell by app/router.tsx.
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "/migration", lazy: () => import("./MigrationPage").then((m) => ({ Component: m.default })) },
];
