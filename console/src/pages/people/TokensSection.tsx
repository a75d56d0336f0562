// My API tokens: list (name, created, last used, expiry, state), create (the value shown once,
// with a copy button, and gone when the dialog closes), revoke (confirmed). A token acts as its
// user, with the user's role: `Authorization: Token <value>`.
import {
  Alert,
  Button,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  FormControlLabel,
  MenuItem,
  Stack,
  Switch,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, unwrap, type components } from "../../api/client";
import { useMe } from "../../auth/session";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageLoading } from "../../components/PageLoading";
import { Time } from "../../components/Time";
import { Section } from "./Section";
import { OnceValue } from "./OnceValue";

export type ApiToken = components["schemas"]["ApiToken"];
const TOKENS_KEY = ["tokens", "mine"] as const;

const EXPIRIES = [
  { value: "30", label: "in 30 days" },
  { value: "90", label: "in 90 days" },
  { value: "365", label: "in a year" },
  { value: "never", label: "never" },
];

function state(token: ApiToken): { label: string; color?: "success" } {
  if (token.revoked_at) return { label: "Revoked" };
  if (token.is_active) return { label: "Active", color: "success" };
  return { label: "Expired" };
}

/** Create a token; its value is shown in this dialog only, and dropped when it closes. */
export function CreateTokenDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("90");
  const [created, setCreated] = useState<{ name: string; value: string } | null>(null);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/tokens/", {
          body: {
            name,
            expires_at: expiry === "never" ? null : new Date(Date.now() + Number(expiry) * 86_400_000).toISOString(),
          } as components["schemas"]["ApiTokenRequest"],
        }),
      ),
    onSuccess: (token) => {
      setCreated({ name: token.name, value: token.token });
      onCreated();
    },
  });
  const nameError = create.error instanceof ApiError ? create.error.fieldErrors("name").join(" ") || undefined : undefined;
  return (
    <Dialog open onClose={onClose} aria-labelledby="token-dialog-title" fullWidth maxWidth="sm">
      {created ? (
        <>
          <DialogTitle id="token-dialog-title">Token {created.name} created</DialogTitle>
          <DialogContent>
            <OnceValue
              label="Token"
              value={created.value}
              warning="Copy the token now and keep it somewhere safe: it is shown only this once and cannot be retrieved later. Anyone holding it acts as you."
            />
            <Typography variant="body2" color="text.secondary" sx={{ mt: 2 }}>
              Send it in the <code>Authorization: Token &lt;token&gt;</code> header of API requests.
            </Typography>
          </DialogContent>
          <DialogActions>
            <Button variant="contained" onClick={onClose}>
              Done, I have copied it
            </Button>
          </DialogActions>
        </>
      ) : (
        <form
          aria-labelledby="token-dialog-title"
          noValidate
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <DialogTitle id="token-dialog-title">New API token</DialogTitle>
          <DialogContent>
            <Stack spacing={2} sx={{ pt: 1 }}>
              <DialogContentText>
                A token lets a script or another tool use the API as you, with your role. Name it after what will use it.
              </DialogContentText>
              <ErrorAlert error={create.error} shownFields={["name"]} />
              <TextField
                label="Name"
                value={name}
                onChange={(event) => setName(event.target.value)}
                required
                autoFocus
                size="small"
                error={Boolean(nameError)}
                helperText={nameError ?? "For example: nightly backup script"}
              />
              <TextField select label="Expires" value={expiry} onChange={(event) => setExpiry(event.target.value)} size="small">
                {EXPIRIES.map((option) => (
                  <MenuItem key={option.value} value={option.value}>
                    {option.label}
                  </MenuItem>
                ))}
              </TextField>
            </Stack>
          </DialogContent>
          <DialogActions>
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="contained" disabled={create.isPending || !name.trim()}>
              Create token
            </Button>
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}

function RevokeDialog({ token, onClose, onRevoked }: { token: ApiToken; onClose: () => void; onRevoked: () => void }) {
  const revoke = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/tokens/{id}/", { params: { path: { id: token.id } } })),
    onSuccess: onRevoked,
  });
  return (
    <Dialog open onClose={onClose} aria-labelledby="revoke-token-title">
      <DialogTitle id="revoke-token-title">Revoke the token {token.name}?</DialogTitle>
      <DialogContent>
        <Stack spacing={2}>
          <DialogContentText>
            Requests with it are refused from now on; whatever uses it stops working. This cannot be undone: create a new token if
            you need one again.
          </DialogContentText>
          <ErrorAlert error={revoke.error} />
        </Stack>
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" color="error" onClick={() => revoke.mutate()} disabled={revoke.isPending}>
          Revoke
        </Button>
      </DialogActions>
    </Dialog>
  );
}

export function TokensSection() {
  const me = useMe();
  const client = useQueryClient();
  const [showAll, setShowAll] = useState(false);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const tokens = useQuery({
    queryKey: [...TOKENS_KEY, me.id, showAll],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/tokens/", {
          params: { query: { user: me.id, active: showAll ? undefined : true, ordering: "-created_at", page_size: 100 } },
        }),
      ),
  });
  const refresh = () => client.invalidateQueries({ queryKey: TOKENS_KEY });
  return (
    <Section
      id="tokens"
      title="API tokens"
      description="For scripts and other tools: each acts as you, with your role, until it expires or you revoke it."
    >
      <Stack direction="row" spacing={2} alignItems="center" sx={{ mb: 2 }}>
        <Button variant="contained" startIcon={<Add />} onClick={() => setCreating(true)}>
          New token
        </Button>
        <FormControlLabel control={<Switch checked={showAll} onChange={(event) => setShowAll(event.target.checked)} />} label="Show revoked and expired" />
      </Stack>
      {notice ? (
        <Alert severity="success" role="status" onClose={() => setNotice(null)} sx={{ mb: 2 }}>
          {notice}
        </Alert>
      ) : null}
      {tokens.error ? <ErrorAlert error={tokens.error} /> : null}
      {tokens.isPending ? (
        <PageLoading label="Loading tokens" />
      ) : tokens.data && tokens.data.results.length === 0 ? (
        <Typography color="text.secondary">
          {showAll ? "You have no API tokens." : "You have no active API tokens."} Create one for each script or tool that calls the API,
          so that you can revoke one without the others.
        </Typography>
      ) : tokens.data ? (
        <TableContainer>
          <Table size="small" aria-label="My API tokens">
            <TableHead>
              <TableRow>
                <TableCell scope="col">Name</TableCell>
                <TableCell scope="col">Starts with</TableCell>
                <TableCell scope="col">Created</TableCell>
                <TableCell scope="col">Last used</TableCell>
                <TableCell scope="col">Expires</TableCell>
                <TableCell scope="col">State</TableCell>
                <TableCell scope="col">Actions</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {tokens.data.results.map((token) => {
                const s = state(token);
                return (
                  <TableRow key={token.id} hover>
                    <TableCell>{token.name}</TableCell>
                    <TableCell sx={{ fontFamily: "monospace" }}>oct_{token.prefix}_…</TableCell>
                    <TableCell>
                      <Time value={token.created_at} />
                    </TableCell>
                    <TableCell>{token.last_used_at ? <Time value={token.last_used_at} /> : "never"}</TableCell>
                    <TableCell>{token.expires_at ? <Time value={token.expires_at} /> : "never"}</TableCell>
                    <TableCell>
                      <Chip size="small" variant="outlined" label={s.label} color={s.color} />
                    </TableCell>
                    <TableCell>
                      {token.is_active ? (
                        <Button size="small" color="error" onClick={() => setRevoking(token)} aria-label={`Revoke ${token.name}`}>
                          Revoke
                        </Button>
                      ) : null}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </TableContainer>
      ) : null}
      {creating ? <CreateTokenDialog onClose={() => setCreating(false)} onCreated={refresh} /> : null}
      {revoking ? (
        <RevokeDialog
          token={revoking}
          onClose={() => setRevoking(null)}
          onRevoked={() => {
            setNotice(`The token ${revoking.name} was revoked.`);
            setRevoking(null);
            refresh();
          }}
        />
      ) : null}
    </Section>
  );
}
