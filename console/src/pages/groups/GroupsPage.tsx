// Groups of targets: static members and/or a saved selector. Server-paged; the search and the
// page are in the URL.
import {
  Chip,
  InputAdornment,
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
  TextField,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import AutoAwesome from "@mui/icons-material/AutoAwesome";
import PushPin from "@mui/icons-material/PushPin";
import Search from "@mui/icons-material/Search";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { GroupDialog, type Group } from "./GroupDialog";

const PAGE_SIZES = [25, 50, 100];

export function GroupKind({ group }: { group: Pick<Group, "selector" | "members"> }) {
  if (group.selector) {
    return <Chip size="small" icon={<AutoAwesome />} label={group.members?.length ? "Selector + static" : "Selector"} variant="outlined" />;
  }
  return <Chip size="small" icon={<PushPin />} label="Static" variant="outlined" />;
}

export default function GroupsPage() {
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const search = params.get("search") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [typed, setTyped] = useState(search);
  const [creating, setCreating] = useState(false);

  const change = (updates: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(updates)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };

  // the search box writes to the URL after a pause in typing
  useEffect(() => {
    if (typed === search) return;
    const timer = setTimeout(() => change({ search: typed.trim() || null, page: null }), 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [typed]);

  const groups = useQuery({
    queryKey: ["groups", "list", search, page, pageSize],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/groups/", {
          params: { query: { search: search || undefined, page, page_size: pageSize, ordering: "name" } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  return (
    <Stack spacing={2}>
      <PageHeader
        title="Groups"
        subtitle="Named sets of targets: static members, a saved selector, or both."
        actions={
          <GatedButton needs="editGroups" variant="contained" startIcon={<Add />} onClick={() => setCreating(true)}>
            New group
          </GatedButton>
        }
      />
      <TextField
        label="Search groups"
        value={typed}
        onChange={(event) => setTyped(event.target.value)}
        size="small"
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
      {groups.error ? <ErrorAlert error={groups.error} /> : null}
      {groups.isPending ? (
        <PageLoading label="Loading groups" />
      ) : groups.data ? (
        groups.data.count === 0 ? (
          <Paper variant="outlined" sx={{ p: 3 }}>
            <Typography>
              {search
                ? `No group matches “${search}”. Try another search.`
                : "No groups yet. A group names a set of targets for jobs and schedules: create one with New group."}
            </Typography>
          </Paper>
        ) : (
          <Paper variant="outlined">
            <TableContainer>
              <Table size="small" aria-label="Groups">
                <TableHead>
                  <TableRow>
                    <TableCell scope="col">Name</TableCell>
                    <TableCell scope="col">Membership</TableCell>
                    <TableCell scope="col">Selector</TableCell>
                    <TableCell scope="col" align="right">
                      Static members
                    </TableCell>
                    <TableCell scope="col">Description</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {groups.data.results.map((group) => (
                    <TableRow key={group.id} hover>
                      <TableCell>
                        <MuiLink component={Link} to={`/groups/${group.id}`}>
                          {group.name}
                        </MuiLink>
                      </TableCell>
                      <TableCell>
                        <GroupKind group={group} />
                      </TableCell>
                      <TableCell sx={{ fontFamily: "monospace", maxWidth: 320, overflowWrap: "anywhere" }}>
                        {group.selector || "—"}
                      </TableCell>
                      <TableCell align="right">{group.members?.length ?? 0}</TableCell>
                      <TableCell sx={{ maxWidth: 320 }}>
                        <Typography variant="body2" noWrap title={group.description}>
                          {group.description || "—"}
                        </Typography>
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
            <TablePagination
              component="div"
              count={groups.data.count}
              page={page - 1}
              rowsPerPage={pageSize}
              rowsPerPageOptions={PAGE_SIZES}
              onPageChange={(_, next) => change({ page: next > 0 ? String(next + 1) : null })}
              onRowsPerPageChange={(event) => change({ page_size: event.target.value, page: null })}
            />
          </Paper>
        )
      ) : null}
      {creating ? (
        <GroupDialog open onClose={() => setCreating(false)} onSaved={(group) => navigate(`/groups/${group.id}`)} />
      ) : null}
    </Stack>
  );
}
