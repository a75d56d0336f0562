// /people (admins): every user with their role and state; search, role and state filters in
// the URL; create a user, change one's role and details, reset a password, deactivate or
// reactivate. The server keeps the last active admin (409 with its reason, shown as is).
import {
  Alert,
  Button,
  Chip,
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
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ACTIONS } from "../../auth/roles";
import { useSession } from "../../auth/session";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton, useCan } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { Time } from "../../components/Time";
import { useDebouncedParam } from "../../lib/useDebouncedParam";
import { ActiveDialog, ResetPasswordDialog, ROLES, UserDialog, type User } from "./UserDialogs";

const PAGE_SIZES = [25, 50, 100];
type Role = (typeof ROLES)[number];
type DialogState = { mode: "create" } | { mode: "edit" | "password" | "active"; user: User } | null;

function RowActions({ user, onPick }: { user: User; onPick: (mode: "edit" | "password" | "active") => void }) {
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const pick = (mode: "edit" | "password" | "active") => () => {
    setAnchor(null);
    onPick(mode);
  };
  return (
    <>
      <Tooltip title="Actions">
        <IconButton aria-label={`Actions for ${user.username}`} onClick={(event) => setAnchor(event.currentTarget)}>
          <MoreVert />
        </IconButton>
      </Tooltip>
      <Menu anchorEl={anchor} open={Boolean(anchor)} onClose={() => setAnchor(null)}>
        <MenuItem onClick={pick("edit")}>Change role and details</MenuItem>
        <MenuItem onClick={pick("password")}>Reset password</MenuItem>
        <MenuItem onClick={pick("active")} sx={user.is_active ? { color: "error.main" } : undefined}>
          {user.is_active ? "Deactivate" : "Reactivate"}
        </MenuItem>
      </Menu>
    </>
  );
}

export default function PeoplePage() {
  const isAdmin = useCan("people");
  const { me } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const search = params.get("search") ?? "";
  const role = (ROLES as readonly string[]).includes(params.get("role") ?? "") ? (params.get("role") as Role) : "";
  const state = params.get("active") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [dialog, setDialog] = useState<DialogState>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const change = (updates: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(updates)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in updates)) next.delete("page");
    setParams(next, { replace: true });
  };
  const [typed, onTyped] = useDebouncedParam(search, (value) => change({ search: value.trim() || null }));

  const users = useQuery({
    queryKey: ["users", "list", search, role, state, page, pageSize],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/users/", {
          params: {
            query: {
              search: search || undefined,
              role: role || undefined,
              is_active: state === "yes" ? true : state === "no" ? false : undefined,
              page,
              page_size: pageSize,
              ordering: "username",
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    enabled: isAdmin,
  });
  const saved = (message?: string) => {
    client.invalidateQueries({ queryKey: ["users"] });
    if (message) {
      setDialog(null);
      setNotice(message);
    }
  };
  const filtered = Boolean(search || role || state);

  if (!isAdmin) {
    return (
      <Stack spacing={2}>
        <PageHeader title="People" />
        <Alert severity="warning">
          {ACTIONS.people.reason} Your own profile, password and API tokens are in My account.
        </Alert>
      </Stack>
    );
  }

  return (
    <Stack spacing={2}>
      <PageHeader
        title="People"
        subtitle="Who may sign in, and with which role. Every change is recorded in the audit trail."
        actions={
          <GatedButton needs="people" variant="contained" startIcon={<Add />} onClick={() => setDialog({ mode: "create" })}>
            New user
          </GatedButton>
        }
      />
      {notice ? (
        <Alert severity="success" onClose={() => setNotice(null)} role="status">
          {notice}
        </Alert>
      ) : null}
      <Paper variant="outlined" sx={{ p: 2 }}>
        <Stack direction={{ xs: "column", md: "row" }} spacing={2} role="search" aria-label="Filter users">
          <TextField
            label="Search name or email"
            size="small"
            value={typed}
            onChange={(event) => onTyped(event.target.value)}
            sx={{ minWidth: 280 }}
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
            label="Role"
            value={role}
            onChange={(event) => change({ role: event.target.value || null })}
            sx={{ minWidth: 160 }}
            slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
          >
            <MenuItem value="">Any role</MenuItem>
            {ROLES.map((value) => (
              <MenuItem key={value} value={value}>
                {value}
              </MenuItem>
            ))}
          </TextField>
          <TextField
            select
            size="small"
            label="State"
            value={state}
            onChange={(event) => change({ active: event.target.value || null })}
            sx={{ minWidth: 160 }}
            slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
          >
            <MenuItem value="">Active and deactivated</MenuItem>
            <MenuItem value="yes">Active</MenuItem>
            <MenuItem value="no">Deactivated</MenuItem>
          </TextField>
          {filtered ? (
            <Button sx={{ whiteSpace: "nowrap", flexShrink: 0 }} onClick={() => setParams(new URLSearchParams(), { replace: true })}>
              Clear filters
            </Button>
          ) : null}
        </Stack>
      </Paper>
      {users.error ? <ErrorAlert error={users.error} /> : null}
      {users.isPending ? (
        <PageLoading label="Loading users" />
      ) : users.data && users.data.count === 0 ? (
        <Paper variant="outlined" sx={{ p: 4, textAlign: "center" }}>
          <Typography variant="h6" component="h2" gutterBottom>
            {filtered ? "No user matches these filters" : "No users yet"}
          </Typography>
          <Typography color="text.secondary">
            {filtered ? "Change or clear the filters to see more." : "Create a user for each person who signs in, with the role they need."}
          </Typography>
        </Paper>
      ) : users.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Users">
              <TableHead>
                <TableRow>
                  <TableCell scope="col">User</TableCell>
                  <TableCell scope="col">Role</TableCell>
                  <TableCell scope="col">State</TableCell>
                  <TableCell scope="col">Last sign-in</TableCell>
                  <TableCell scope="col">Joined</TableCell>
                  <TableCell scope="col">Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {users.data.results.map((user) => {
                  const name = [user.first_name, user.last_name].filter(Boolean).join(" ");
                  return (
                    <TableRow key={user.id} hover>
                      <TableCell>
                        <Typography variant="body2" fontWeight={600}>
                          {user.username}
                          {user.id === me?.id ? " (you)" : ""}
                        </Typography>
                        {name || user.email ? (
                          <Typography variant="body2" color="text.secondary">
                            {[name, user.email].filter(Boolean).join(" · ")}
                          </Typography>
                        ) : null}
                      </TableCell>
                      <TableCell>
                        <Stack direction="row" spacing={0.5}>
                          <Chip size="small" label={user.role} variant="outlined" />
                          {user.is_auditor ? <Chip size="small" label="auditor" variant="outlined" /> : null}
                        </Stack>
                      </TableCell>
                      <TableCell>
                        {user.is_active ? (
                          <Chip size="small" label="Active" color="success" variant="outlined" />
                        ) : (
                          <Chip size="small" label="Deactivated" variant="outlined" />
                        )}
                      </TableCell>
                      <TableCell>{user.last_login ? <Time value={user.last_login} /> : "never"}</TableCell>
                      <TableCell>
                        <Time value={user.date_joined} />
                      </TableCell>
                      <TableCell>
                        <RowActions user={user} onPick={(mode) => setDialog({ mode, user })} />
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={users.data.count}
            page={page - 1}
            rowsPerPage={pageSize}
            rowsPerPageOptions={PAGE_SIZES}
            onPageChange={(_, next) => change({ page: next > 0 ? String(next + 1) : null })}
            onRowsPerPageChange={(event) => change({ page_size: event.target.value === "25" ? null : event.target.value })}
          />
        </Paper>
      ) : null}

      {dialog?.mode === "create" ? <UserDialog onClose={() => setDialog(null)} onSaved={() => saved()} /> : null}
      {dialog?.mode === "edit" ? (
        <UserDialog user={dialog.user} onClose={() => setDialog(null)} onSaved={() => saved(`${dialog.user.username} was changed.`)} />
      ) : null}
      {dialog?.mode === "password" ? <ResetPasswordDialog user={dialog.user} onClose={() => setDialog(null)} onSaved={() => saved()} /> : null}
      {dialog?.mode === "active" ? <ActiveDialog user={dialog.user} onClose={() => setDialog(null)} onSaved={(message) => saved(message)} /> : null}
    </Stack>
  );
}
