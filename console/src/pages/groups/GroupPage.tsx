// One group: what defines it (static members, selector) and the targets in it now, paged by
// the server (page in the URL). Managers edit, remove static members, delete.
import {
  Box,
  Button,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Link as MuiLink,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  Typography,
} from "@mui/material";
import AutoAwesome from "@mui/icons-material/AutoAwesome";
import Delete from "@mui/icons-material/Delete";
import Edit from "@mui/icons-material/Edit";
import PushPin from "@mui/icons-material/PushPin";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { GroupDialog } from "./GroupDialog";
import { GroupKind } from "./GroupsPage";

const PAGE_SIZES = [25, 50, 100];

export default function GroupPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);

  const group = useQuery({
    queryKey: ["groups", id],
    queryFn: () => unwrap(api.GET("/api/v1/groups/{id}/", { params: { path: { id } } })),
  });
  const members = useQuery({
    queryKey: ["groups", id, "targets", page, pageSize],
    queryFn: () =>
      unwrap(api.GET("/api/v1/groups/{id}/targets/", { params: { path: { id }, query: { page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
    enabled: group.isSuccess,
  });
  const remove = useMutation({
    mutationFn: (targetId: string) =>
      unwrap(
        api.PATCH("/api/v1/groups/{id}/", {
          params: { path: { id } },
          body: { members: (group.data?.members ?? []).filter((member) => member !== targetId) },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: ["groups"] }),
  });
  const destroy = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/groups/{id}/", { params: { path: { id } } })),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["groups"] });
      navigate("/groups", { replace: true });
    },
  });

  const setPage = (updates: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(updates)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };

  if (group.isPending) return <PageLoading label="Loading the group" />;
  if (group.error || !group.data) {
    return (
      <Stack spacing={2}>
        <PageHeader title="Group" />
        <ErrorAlert error={group.error} />
        <Button component={Link} to="/groups" sx={{ alignSelf: "flex-start" }}>
          Back to groups
        </Button>
      </Stack>
    );
  }
  const data = group.data;
  const staticIds = new Set(data.members ?? []);

  return (
    <Stack spacing={2}>
      <PageHeader
        title={data.name}
        subtitle={<GroupKind group={data} />}
        actions={
          <>
            <GatedButton needs="editGroups" startIcon={<Edit />} variant="outlined" onClick={() => setEditing(true)}>
              Edit
            </GatedButton>
            <GatedButton needs="editGroups" startIcon={<Delete />} color="error" variant="outlined" onClick={() => setDeleting(true)}>
              Delete
            </GatedButton>
          </>
        }
      />
      <Paper variant="outlined" sx={{ p: 2 }}>
        <Stack spacing={1}>
          <Typography variant="h6" component="h2">
            Definition
          </Typography>
          <Typography>{data.description || <em>No description.</em>}</Typography>
          <Typography variant="body2" color="text.secondary">
            Static members: {staticIds.size}
          </Typography>
          <Box>
            <Typography variant="body2" color="text.secondary">
              Selector (targets it matches are members too):
            </Typography>
            <Typography component="pre" sx={{ fontFamily: "monospace", m: 0, whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
              {data.selector || "— (none: static members only)"}
            </Typography>
          </Box>
          <Typography variant="body2" color="text.secondary">
            In selectors elsewhere, this group is <code>group:{data.name}</code>.
          </Typography>
        </Stack>
      </Paper>
      {remove.error ? <ErrorAlert error={remove.error} onClose={() => remove.reset()} /> : null}
      <Paper variant="outlined">
        <Typography variant="h6" component="h2" sx={{ p: 2, pb: 1 }}>
          Members now{members.data ? ` (${members.data.count})` : ""}
        </Typography>
        {members.error ? (
          <Box sx={{ p: 2 }}>
            <ErrorAlert error={members.error} />
          </Box>
        ) : members.isPending ? (
          <PageLoading label="Loading the members" />
        ) : members.data && members.data.count === 0 ? (
          <Typography sx={{ p: 2 }}>
            No target is in this group now. Edit the group to add static members or a selector.
          </Typography>
        ) : members.data ? (
          <>
            <TableContainer>
              <Table size="small" aria-label="Members of the group">
                <TableHead>
                  <TableRow>
                    <TableCell scope="col">Target</TableCell>
                    <TableCell scope="col">Environment</TableCell>
                    <TableCell scope="col">Status</TableCell>
                    <TableCell scope="col">Health</TableCell>
                    <TableCell scope="col">Why a member</TableCell>
                    <TableCell scope="col">
                      <Box component="span" sx={{ position: "absolute", width: 1, height: 1, overflow: "hidden", clip: "rect(0 0 0 0)" }}>
                        Actions
                      </Box>
                    </TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {members.data.results.map((target) => (
                    <TableRow key={target.id} hover>
                      <TableCell>
                        <MuiLink component={Link} to={`/targets/${target.id}`}>
                          {target.name}
                        </MuiLink>
                      </TableCell>
                      <TableCell>{target.environment}</TableCell>
                      <TableCell>{target.status}</TableCell>
                      <TableCell>{target.health.status.replace(/_/g, " ")}</TableCell>
                      <TableCell>
                        {staticIds.has(target.id) ? (
                          <Chip size="small" icon={<PushPin />} label="Static member" variant="outlined" />
                        ) : (
                          <Chip size="small" icon={<AutoAwesome />} label="Matches the selector" variant="outlined" />
                        )}
                      </TableCell>
                      <TableCell align="right">
                        {staticIds.has(target.id) ? (
                          <GatedButton
                            needs="editGroups"
                            size="small"
                            onClick={() => remove.mutate(target.id)}
                            disabled={remove.isPending}
                            aria-label={`Remove ${target.name} from the group`}
                          >
                            Remove
                          </GatedButton>
                        ) : null}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
            <TablePagination
              component="div"
              count={members.data.count}
              page={page - 1}
              rowsPerPage={pageSize}
              rowsPerPageOptions={PAGE_SIZES}
              onPageChange={(_, next) => setPage({ page: next > 0 ? String(next + 1) : null })}
              onRowsPerPageChange={(event) => setPage({ page_size: event.target.value, page: null })}
            />
          </>
        ) : null}
      </Paper>
      {editing ? (
        <GroupDialog
          open
          group={data}
          knownMembers={members.data?.results ?? []}
          onClose={() => setEditing(false)}
          onSaved={() => setEditing(false)}
        />
      ) : null}
      <Dialog open={deleting} onClose={() => setDeleting(false)} aria-labelledby="delete-group-title">
        <DialogTitle id="delete-group-title">Delete group {data.name}?</DialogTitle>
        <DialogContent>
          <DialogContentText>
            The targets stay; only the group goes. Jobs, schedules and other groups whose selectors
            say <code>group:{data.name}</code> will match nothing through it afterwards.
          </DialogContentText>
          {destroy.error ? <ErrorAlert error={destroy.error} /> : null}
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setDeleting(false)} disabled={destroy.isPending}>
            Cancel
          </Button>
          <Button color="error" variant="contained" onClick={() => destroy.mutate()} disabled={destroy.isPending}>
            {destroy.isPending ? "Deleting…" : "Delete group"}
          </Button>
        </DialogActions>
      </Dialog>
    </Stack>
  );
}
