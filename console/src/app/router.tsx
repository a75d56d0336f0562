// Every page of the console, each a chunk of its own loaded when first visited. Every page and
// every filter lives in the URL: a copied link opens the same view.
import { createBrowserRouter, Navigate, type RouteObject } from "react-router";
import { RequireSession } from "../auth/RequireSession";
import { routes as alertRoutes } from "../pages/alerts/routes";
import { routes as auditRoutes } from "../pages/audit/routes";
import { routes as credentialRoutes } from "../pages/credentials/routes";
import { routes as dashboardRoutes } from "../pages/dashboard/routes";
import { routes as migrationRoutes } from "../pages/migration/routes";
import { routes as groupRoutes } from "../pages/groups/routes";
import { routes as jobRoutes } from "../pages/jobs/routes";
import { routes as peopleRoutes } from "../pages/people/routes";
import { routes as runRoutes } from "../pages/runs/routes";
import { routes as systemRoutes } from "../pages/system/routes";
import { routes as scheduleRoutes } from "../pages/schedules/routes";
import { routes as targetRoutes } from "../pages/targets/routes";
import { PageLoading } from "../components/PageLoading";
import { Shell } from "./Shell";
import { RouteError } from "./RouteError";

export const ROUTES: RouteObject[] = [
  {
    path: "/login",
    hydrateFallbackElement: <PageLoading />,
    lazy: () => import("../auth/LoginPage").then((module) => ({ Component: module.default })),
  },
  {
    element: <RequireSession />,
    errorElement: <RouteError />,
    hydrateFallbackElement: <PageLoading />,
    children: [
      {
        element: <Shell />,
        errorElement: <RouteError />,
        children: [
          { index: true, element: <Navigate to="/dashboard" replace /> },
          ...dashboardRoutes,
          ...migrationRoutes,
          ...runRoutes,
          ...jobRoutes,
          ...targetRoutes,
          ...groupRoutes,
          ...scheduleRoutes,
          ...credentialRoutes,
          ...peopleRoutes,
          ...alertRoutes,
          ...systemRoutes,
          ...auditRoutes,
          {
            path: "*",
            lazy: () => import("../pages/NotFoundPage").then((module) => ({ Component: module.default })),
          },
        ],
      },
    ],
  },
];

export function makeRouter() {
  return createBrowserRouter(ROUTES);
}
