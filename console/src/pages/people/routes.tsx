// People (admins) and My account (everyone), mounted inside the shell by app/router.tsx.
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "/people", lazy: () => import("./PeoplePage").then((m) => ({ Component: m.default })) },
  { path: "/account", lazy: () => import("./AccountPage").then((m) => ({ Component: m.default })) },
];
