// The audit pages' routes (admins and auditors), mounted inside the shell by app/router.tsx
// (loaded on demand).
import type { RouteObject } from "react-router";

export const routes: RouteObject[] = [
  { path: "audit", lazy: () => import("./AuditPage").then((module) => ({ Component: module.default })) },
  { path: "audit/report", lazy: () => import("./ReportPage").then((module) => ({ Component: module.default })) },
  { path: "audit/:id", lazy: () => import("./AuditRecordPage").then((module) => ({ Component: module.default })) },
];
