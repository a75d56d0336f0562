// The sign-in page. Wrong credentials and a lockout (429 with Retry-After) are said plainly;
// after signing in, the user lands where they were going (?next=, a path of the console only).
import { Alert, Box, Button, Card, CardContent, Stack, TextField, Typography } from "@mui/material";
import { useEffect, useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "../api/client";
import { PASSWORD_CHANGED_KEY, useSession } from "./session";

/** Only a path of this console: never another site (an open redirect). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (/^\/(api|admin|static)(\/|$)/.test(next)) return "/";
  return next;
}

export default function LoginPage() {
  const { me, signIn } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ended = params.get("ended");
  // set by My account after a password change (a reason, never a credential): read once
  const [passwordChanged] = useState(() => {
    const flag = window.sessionStorage.getItem(PASSWORD_CHANGED_KEY) === "1";
    window.sessionStorage.removeItem(PASSWORD_CHANGED_KEY);
    return flag;
  });

  useEffect(() => {
    document.title = "Sign in · OpsConductor";
  }, []);

  if (me) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password);
      setPassword("");
      navigate(next, { replace: true });
    } catch (exc) {
      setPassword("");
      if (exc instanceof ApiError && exc.status === 429) {
        const wait = exc.retryAfter ? ` Try again in ${Math.ceil(exc.retryAfter / 60)} min (${exc.retryAfter} s).` : "";
        setError(`Too many failed sign-in attempts: signing in is locked for now.${wait}`);
      } else if (exc instanceof ApiError && exc.status === 401) {
        setError("Wrong username or password, or the account is deactivated.");
      } else if (exc instanceof ApiError) {
        setError(exc.message);
      } else {
        setError("The server cannot be reached.");
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Box component="main" sx={{ minHeight: "100vh", display: "grid", placeItems: "center", p: 2 }}>
      <Card sx={{ width: "100%", maxWidth: 400 }} variant="outlined">
        <CardContent>
          <Stack component="form" spacing={2} onSubmit={submit} noValidate>
            <Typography variant="h5" component="h1">
              Sign in to OpsConductor
            </Typography>
            {passwordChanged && !error ? (
              <Alert severity="success">
                Your password was changed. That ends every session you had, this one too: sign in with the new password.
              </Alert>
            ) : ended === "1" && !error ? (
              <Alert severity="info">Your session has ended. Sign in again to go on.</Alert>
            ) : null}
            {error ? (
              <Alert severity="error" role="alert">
                {error}
              </Alert>
            ) : null}
            <TextField
              label="Username"
              name="username"
              autoComplete="username"
              autoFocus
              required
              value={username}
              onChange={(event) => setUsername(event.target.value)}
            />
            <TextField
              label="Password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            <Button type="submit" variant="contained" size="large" disabled={busy || !username || !password}>
              {busy ? "Signing in…" : "Sign in"}
            </Button>
          </Stack>
        </CardContent>
      </Card>
    </Box>
  );
}
