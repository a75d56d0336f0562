// The signed-in user, from GET /api/v1/me/ with the session cookie. A 401 anywhere ends the
// session in the console too: the user is sent to the sign-in page, and back afterwards.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ApiError, onApiResponse, unwrap } from "../api/client";
import type { Me } from "./roles";

interface SessionValue {
  me: Me | null;
  loading: boolean;
  /** The session ended without a sign-out here (signed out elsewhere, password changed,
   * account deactivated, expired): the sign-in page says so. */
  ended: boolean;
  /** The user signed out here: the sign-in page opens plainly (no way back to the page). */
  signedOut: boolean;
  signIn: (username: string, password: string) => Promise<Me>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);
export const ME_KEY = ["me"] as const;
// Whether this tab had a session open (a flag, never a credential): a reload that finds the
// session gone can then say it ended rather than ask to sign in as if for the first time.
const OPEN_KEY = "opsconductor.session-open";
/** A flag (never a credential): the session ended because the user changed their password in
 * My account; the sign-in page says so once. */
export const PASSWORD_CHANGED_KEY = "opsconductor.password-changed";

function remember(open: boolean) {
  if (open) window.sessionStorage.setItem(OPEN_KEY, "1");
  else window.sessionStorage.removeItem(OPEN_KEY);
}

async function fetchMe(): Promise<Me | null> {
  try {
    return await unwrap(api.GET("/api/v1/me/"));
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return null;
    throw exc;
  }
}

/** The CSRF cookie is set by the console's page and by GET /api/v1/auth/session/. */
async function ensureCsrf() {
  if (!document.cookie.includes("csrftoken=")) await unwrap(api.GET("/api/v1/auth/session/"));
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [ended, setEnded] = useState(false);
  const [signedOut, setSignedOut] = useState(false);
  const query = useQuery({
    queryKey: ME_KEY,
    queryFn: async () => {
      const me = await fetchMe();
      if (!me && window.sessionStorage.getItem(OPEN_KEY)) setEnded(true);
      remember(Boolean(me));
      return me;
    },
    staleTime: 60_000,
    retry: false,
  });

  useEffect(
    () =>
      onApiResponse(({ status }) => {
        // the session ended elsewhere (signed out, password changed, deactivated, expired)
        if (status === 401 && client.getQueryData(ME_KEY)) {
          remember(false);
          setEnded(true);
          client.setQueryData(ME_KEY, null);
        }
      }),
    [client],
  );

  /** Another user's (or nobody's) data must not outlive the session: every query but the
   * session's own is dropped (clearing that one too would leave this provider watching a query
   * no longer in the cache, blind to the new user). */
  const reset = useCallback(
    (me: Me | null) => {
      client.removeQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
      client.setQueryData(ME_KEY, me);
      remember(Boolean(me));
      setEnded(false);
    },
    [client],
  );

  const signIn = useCallback(
    async (username: string, password: string) => {
      await ensureCsrf();
      const me = await unwrap(api.POST("/api/v1/auth/session/", { body: { username, password } }));
      setSignedOut(false);
      reset(me);
      return me;
    },
    [reset],
  );

  const signOut = useCallback(async () => {
    try {
      await unwrap(api.DELETE("/api/v1/auth/session/"));
    } finally {
      setSignedOut(true);
      reset(null);
    }
  }, [reset]);

  const value = useMemo(
    () => ({ me: query.data ?? null, loading: query.isPending, ended, signedOut, signIn, signOut }),
    [query.data, query.isPending, ended, signedOut, signIn, signOut],
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
