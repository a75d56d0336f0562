// The alert pages' routes (channels, rules, the delivery log), mounted inside the shell by
// app/router.tsx (loaded on demand).
import { Navigate, type RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "/alerts", element: <Navigate to="/alerts/channels" replace /> },
  {
    path: "/alerts/channels",
    lazy: () => import("./ChannelsPage").then((module) => ({ Component: module.default })),
  },
  {
    path: "/alerts/rules",
    lazy: () => import("./RulesPage").then((module) => ({ Component: module.default })),
  },
  {
    path: "/alerts/deliveries",
    lazy: () => import("./DeliveriesPage").then((module) => ({ Component: module.default })),
  },
];
