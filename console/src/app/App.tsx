import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState } from "react";
import { RouterProvider } from "react-router";
import { ApiError } from "../api/client";
import { SessionProvider } from "../auth/session";
import { ConnectionProvider } from "./connection";
import { makeRouter } from "./router";
import { AppThemeProvider } from "./theme";

export function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // a 4xx will not change by asking again; a lost server is retried
        retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 3,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
}

export function App() {
  const [client] = useState(makeQueryClient);
  const [router] = useState(makeRouter);
  return (
    <QueryClientProvider client={client}>
      <AppThemeProvider>
        <ConnectionProvider>
          <SessionProvider>
            <RouterProvider router={router} />
          </SessionProvider>
        </ConnectionProvider>
      </AppThemeProvider>
    </QueryClientProvider>
  );
}
