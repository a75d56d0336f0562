// The signed-in user, from GET /api/v1/me/ with the session cookie. A 401 anywhere ends the
// session in the console too: the user is sent to the sign-in page, and back afterwards.
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from "react";
import { api, ApiError, onApiResponse, unwrap } from "../api/client";
import type { Me } from "./roles";

interface SessionValue {
  me: Me | null;
  loading: boolean;
  signIn: (username: string, password: string) => Promise<Me>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);
export const ME_KEY = ["me"] as const;

async function fetchMe(): Promise<Me | null> {
  try {
    return await unwrap(api.GET("/api/v1/me/"));
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return null;
    throw exc;
  }
}

/** Drop what another session may have cached (not the query of who is signed in, whose
 * observer must keep seeing it: clearing the whole cache would leave it looking at nothing). */
function forgetAllBut(client: QueryClient, keep: readonly unknown[]) {
  client.removeQueries({ predicate: (query) => query.queryKey[0] !== keep[0] });
}

/** The CSRF cookie is set by the console's page and by GET /api/v1/auth/session/. */
async function ensureCsrf() {
  if (!document.cookie.includes("csrftoken=")) await unwrap(api.GET("/api/v1/auth/session/"));
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const query = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000, retry: false });

  useEffect(
    () =>
      onApiResponse(({ status }) => {
        // the session ended elsewhere (signed out, password changed, deactivated, expired)
        if (status === 401 && client.getQueryData(ME_KEY)) client.setQueryData(ME_KEY, null);
      }),
    [client],
  );

  const signIn = useCallback(
    async (username: string, password: string) => {
      await ensureCsrf();
      const me = await unwrap(api.POST("/api/v1/auth/session/", { body: { username, password } }));
      forgetAllBut(client, ME_KEY);
      client.setQueryData(ME_KEY, me);
      return me;
    },
    [client],
  );

  const signOut = useCallback(async () => {
    try {
      await unwrap(api.DELETE("/api/v1/auth/session/"));
    } finally {
      forgetAllBut(client, ME_KEY);
      client.setQueryData(ME_KEY, null);
    }
  }, [client]);

  const value = useMemo(
    () => ({ me: query.data ?? null, loading: query.isPending, signIn, signOut }),
    [query.data, query.isPending, signIn, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

export function useMe(): Me {
  const { me } = useSession();
  if (!me) throw new Error("useMe outside a signed-in page");
  return me;
}
