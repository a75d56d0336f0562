// Credentials (admins only): list, create, change, rotate the secret, delete. Secrets never
// appear here: the API returns who set them and when, the key's type and fingerprint, and the
// scope (docs/adr/0015-credential-scope.md).
import {
  Alert,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  IconButton,
  InputAdornment,
  Menu,
  MenuItem,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import MoreVert from "@mui/icons-material/MoreVert";
import Search from "@mui/icons-material/Search";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ACTIONS } from "../../auth/roles";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton, useCan } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { CredentialDialog, KIND_LABELS, RotateDialog, type Credential, type Kind } from "./CredentialForms";

const PAGE_SIZES = [25, 50, 100];

export function ScopeSummary({ credential }: { credential: Credential }) {
  const hosts = credential.allowed_hosts ?? [];
  const roles = credential.attach_roles ?? [];
  return (
    <Stack spacing={0.25}>
      <Typography variant="body2">
        Targets:{" "}
        {credential.allowed_targets ? (
          <code style={{ overflowWrap: "anywhere" }}>{credential.allowed_targets}</code>
        ) : (
          "any"
        )}
      </Typography>
      <Typography variant="body2">
        Hosts: {hosts.length ? <code style={{ overflowWrap: "anywhere" }}>{hosts.join(", ")}</code> : "any"}
      </Typography>
      <Typography variant="body2">Attach: admin{roles.length ? `, ${roles.join(", ")}` : " only"}</Typography>
      <Typography variant="body2">
        Host keys: {credential.host_key_policy === "strict" ? "strict (no trust on first use)" : "as the target says"}
      </Typography>
    </Stack>
  );
}

function RowActions({
  credential,
  onEdit,
  onRotate,
  onDelete,
}: {
  credential: Credential;
  onEdit: () => void;
  onRotate: () => void;
  onDelete: () => void;
}) {
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const pick = (action: () => void) => () => {
    setAnchor(null);
    action();
  };
  return (
    <>
      <Tooltip title="Actions">
        <IconButton aria-label={`Actions for ${credential.name}`} onClick={(event) => setAnchor(event.currentTarget)}>
          <MoreVert />
        </IconButton>
      </Tooltip>
      <Menu anchorEl={anchor} open={Boolean(anchor)} onClose={() => setAnchor(null)}>
        <MenuItem onClick={pick(onEdit)}>Edit name, username and scope</MenuItem>
        <MenuItem onClick={pick(onRotate)}>Rotate the secret</MenuItem>
        <MenuItem onClick={pick(onDelete)} sx={{ color: "error.main" }}>
          Delete
        </MenuItem>
      </Menu>
    </>
  );
}

export default function CredentialsPage() {
  const isAdmin = useCan("credentials");
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const search = params.get("search") ?? "";
  const kind = (params.get("kind") ?? "") as Kind | "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [typed, setTyped] = useState(search);
  const [dialog, setDialog] = useState<
    { mode: "create" } | { mode: "edit" | "rotate" | "delete"; credential: Credential } | null
  >(null);
  const [notice, setNotice] = useState<string | null>(null);

  const change = (updates: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(updates)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };

  useEffect(() => {
    if (typed === search) return;
    const timer = setTimeout(() => change({ search: typed.trim() || null, page: null }), 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [typed]);

  const credentials = useQuery({
    queryKey: ["credentials", "list", search, kind, page, pageSize],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/credentials/", {
          params: {
            query: { search: search || undefined, kind: kind || undefined, page, page_size: pageSize, ordering: "name" },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    enabled: isAdmin,
  });
  const destroy = useMutation({
    mutationFn: (credential: Credential) =>
      unwrap(api.DELETE("/api/v1/credentials/{id}/", { params: { path: { id: credential.id } } })),
    onSuccess: (_, credential) => {
      client.invalidateQueries({ queryKey: ["credentials"] });
      setDialog(null);
      setNotice(`Credential ${credential.name} was deleted.`);
    },
  });
  const saved = (message: string) => {
    client.invalidateQueries({ queryKey: ["credentials"] });
    setDialog(null);
    setNotice(message);
  };

  if (!isAdmin) {
    return (
      <Stack spacing={2}>
        <PageHeader title="Credentials" />
        <Alert severity="warning">{ACTIONS.credentials.reason} Ask an admin for the name of a credential you may attach.</Alert>
      </Stack>
    );
  }

  return (
    <Stack spacing={2}>
      <PageHeader
        title="Credentials"
        subtitle="Secrets to log in to targets. Write-only: never shown after they are set."
        actions={
          <GatedButton needs="credentials" variant="contained" startIcon={<Add />} onClick={() => setDialog({ mode: "create" })}>
            New credential
          </GatedButton>
        }
      />
      {notice ? (
        <Alert severity="success" onClose={() => setNotice(null)} role="status">
          {notice}
        </Alert>
      ) : null}
      <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
        <TextField
          label="Search credentials"
          size="small"
          value={typed}
          onChange={(event) => setTyped(event.target.value)}
          sx={{ maxWidth: 360 }}
          slotProps={{
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <Search />
                </InputAdornment>
              ),
            },
          }}
        />
        <TextField
          select
          size="small"
          label="Kind"
          value={kind}
          onChange={(event) => change({ kind: event.target.value || null, page: null })}
          sx={{ minWidth: 200 }}
          slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
        >
          <MenuItem value="">Any kind</MenuItem>
          {(Object.keys(KIND_LABELS) as Kind[]).map((value) => (
            <MenuItem key={value} value={value}>
              {KIND_LABELS[value]}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {credentials.error ? <ErrorAlert error={credentials.error} /> : null}
      {credentials.isPending ? (
        <PageLoading label="Loading credentials" />
      ) : credentials.data && credentials.data.count === 0 ? (
        <Paper variant="outlined" sx={{ p: 3 }}>
          <Typography>
            {search || kind
              ? "No credential matches these filters."
              : "No credentials yet. Create one (an SSH key, or a password for SSH or WinRM), then attach it to targets' connection methods."}
          </Typography>
        </Paper>
      ) : credentials.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Credentials">
              <TableHead>
                <TableRow>
                  <TableCell scope="col">Name</TableCell>
                  <TableCell scope="col">Kind</TableCell>
                  <TableCell scope="col">Username</TableCell>
                  <TableCell scope="col">Key</TableCell>
                  <TableCell scope="col">Scope</TableCell>
                  <TableCell scope="col" align="right">
                    Used by
                  </TableCell>
                  <TableCell scope="col">Secret set</TableCell>
                  <TableCell scope="col">Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {credentials.data.results.map((credential) => {
                  const setBy = (credential.secret_set_by as { name?: string } | null)?.name;
                  return (
                    <TableRow key={credential.id} hover>
                      <TableCell>
                        <Typography variant="body2" fontWeight={600}>
                          {credential.name}
                        </Typography>
                        {credential.description ? (
                          <Typography variant="body2" color="text.secondary">
                            {credential.description}
                          </Typography>
                        ) : null}
                      </TableCell>
                      <TableCell>{KIND_LABELS[credential.kind]}</TableCell>
                      <TableCell>{credential.username}</TableCell>
                      <TableCell sx={{ fontFamily: "monospace", fontSize: 12, maxWidth: 220, overflowWrap: "anywhere" }}>
                        {credential.key_fingerprint ? `${credential.key_type} ${credential.key_fingerprint}` : "—"}
                      </TableCell>
                      <TableCell sx={{ maxWidth: 320 }}>
                        <ScopeSummary credential={credential} />
                      </TableCell>
                      <TableCell align="right">
                        {credential.used_by} method{credential.used_by === 1 ? "" : "s"}
                      </TableCell>
                      <TableCell>
                        <Typography variant="body2">{new Date(credential.secret_set_at).toLocaleString()}</Typography>
                        {setBy ? (
                          <Typography variant="body2" color="text.secondary">
                            by {setBy}
                          </Typography>
                        ) : null}
                      </TableCell>
                      <TableCell>
                        <RowActions
                          credential={credential}
                          onEdit={() => setDialog({ mode: "edit", credential })}
                          onRotate={() => setDialog({ mode: "rotate", credential })}
                          onDelete={() => {
                            destroy.reset();
                            setDialog({ mode: "delete", credential });
                          }}
                        />
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={credentials.data.count}
            page={page - 1}
            rowsPerPage={pageSize}
            rowsPerPageOptions={PAGE_SIZES}
            onPageChange={(_, next) => change({ page: next > 0 ? String(next + 1) : null })}
            onRowsPerPageChange={(event) => change({ page_size: event.target.value, page: null })}
          />
        </Paper>
      ) : null}

      {dialog?.mode === "create" ? (
        <CredentialDialog onClose={() => setDialog(null)} onSaved={(c) => saved(`Credential ${c.name} was created.`)} />
      ) : null}
      {dialog?.mode === "edit" ? (
        <CredentialDialog
          credential={dialog.credential}
          onClose={() => setDialog(null)}
          onSaved={(c) => saved(`Credential ${c.name} was changed.`)}
        />
      ) : null}
      {dialog?.mode === "rotate" ? (
        <RotateDialog
          credential={dialog.credential}
          onClose={() => setDialog(null)}
          onSaved={(c) => saved(`The secret of ${c.name} was replaced.`)}
        />
      ) : null}
      {dialog?.mode === "delete" ? (
        <Dialog open onClose={() => setDialog(null)} aria-labelledby="delete-credential-title">
          <DialogTitle id="delete-credential-title">Delete credential {dialog.credential.name}?</DialogTitle>
          <DialogContent>
            <Stack spacing={2}>
              <DialogContentText>
                {dialog.credential.used_by > 0
                  ? `${dialog.credential.used_by} connection method${dialog.credential.used_by === 1 ? " uses" : "s use"} it: the server will refuse until they use another credential.`
                  : "No connection method uses it. Its secret is destroyed with it."}
              </DialogContentText>
              {destroy.error ? <ErrorAlert error={destroy.error} /> : null}
            </Stack>
          </DialogContent>
          <DialogActions>
            <Button onClick={() => setDialog(null)} disabled={destroy.isPending}>
              Cancel
            </Button>
            <Button
              color="error"
              variant="contained"
              onClick={() => destroy.mutate(dialog.credential)}
              disabled={destroy.isPending}
            >
              {destroy.isPending ? "Deleting…" : "Delete credential"}
            </Button>
          </DialogActions>
        </Dialog>
      ) : null}
    </Stack>
  );
}
