// Render a component as the console does: theme, query client, router, and a signed-in user
// of a given role (set straight into the session's cache: no server in unit tests).
import { QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";
import { makeQueryClient } from "../app/App";
import { ConnectionProvider } from "../app/connection";
import { AppThemeProvider } from "../app/theme";
import { ME_KEY, SessionProvider } from "../auth/session";
import type { Me, Role } from "../auth/roles";

export function fakeMe(role: Role): Me {
  return {
    id: "00000000-0000-0000-0000-000000000001",
    username: `${role}-user`,
    email: "",
    first_name: "",
    last_name: "",
    role,
    is_auditor: false,
    is_active: true,
    date_joined: "2026-01-01T00:00:00Z",
    last_login: null,
  } as Me;
}

export function renderWith(ui: ReactElement, { role = "admin", path = "/" }: { role?: Role | null; path?: string } = {}) {
  const client = makeQueryClient();
  client.setQueryData(ME_KEY, role ? fakeMe(role) : null);
  return render(
    <QueryClientProvider client={client}>
      <AppThemeProvider>
        <ConnectionProvider>
          <SessionProvider>
            <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
          </SessionProvider>
        </ConnectionProvider>
      </AppThemeProvider>
    </QueryClientProvider>,
  );
}
