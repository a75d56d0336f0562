// /jobs: every job, server-paged, with its search, filters and ordering in the URL.
import {
  Box,
  Button,
  Checkbox,
  Chip,
  FormControlLabel,
  Link as MuiLink,
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
import Archive from "@mui/icons-material/Archive";
import Edit from "@mui/icons-material/Edit";
import PlayArrow from "@mui/icons-material/PlayArrow";
import UploadFile from "@mui/icons-material/UploadFile";
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedLink } from "./GatedLink";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { useSession } from "../../auth/session";
import { formatWhen } from "./format";
import type { Job, Parameter } from "./model";
import { useJobs } from "./queries";

const ORDERINGS = [
  { value: "name", label: "Name (A–Z)" },
  { value: "-name", label: "Name (Z–A)" },
  { value: "-updated_at", label: "Recently updated" },
  { value: "updated_at", label: "Least recently updated" },
  { value: "-created_at", label: "Newest" },
  { value: "created_at", label: "Oldest" },
];
const SIZES = [10, 25, 50, 100];

export default function JobsListPage() {
  const [params, setParams] = useSearchParams();
  const { me } = useSession();
  const search = params.get("search") ?? "";
  const archived = params.get("archived") ?? "false";
  const label = params.get("label") ?? "";
  const mine = params.get("mine") === "1";
  const ordering = params.get("ordering") ?? "name";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;

  const set = (changes: Record<string, string | null>, keepPage = false) => {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null || value === "") next.delete(name);
      else next.set(name, value);
    }
    if (!keepPage) next.delete("page");
    setParams(next, { replace: true });
  };

  // the text filters write the URL a moment after typing stops (null: nothing pending)
  const [typed, setTyped] = useState<{ search: string; label: string } | null>(null);
  useEffect(() => {
    if (typed === null) return;
    const timer = setTimeout(() => {
      set({ search: typed.search, label: typed.label });
      setTyped(null);
    }, 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [typed]);
  const shownSearch = typed?.search ?? search;
  const shownLabel = typed?.label ?? label;

  const jobs = useJobs({
    search,
    archived: archived === "all" ? undefined : archived === "true",
    label,
    owner: mine && me ? me.id : undefined,
    ordering,
    page,
    page_size: pageSize,
  });
  const filtered = Boolean(search || label || mine || archived !== "false");

  return (
    <>
      <PageHeader
        title="Jobs"
        subtitle="Reusable definitions of work: steps, parameters, default targets and policy."
        actions={
          <>
            <GatedLink needs="editJobs" to="/jobs/import" startIcon={<UploadFile />}>
              Import
            </GatedLink>
            <GatedLink needs="editJobs" to="/jobs/new" variant="contained" startIcon={<Add />}>
              New job
            </GatedLink>
          </>
        }
      />
      <Paper variant="outlined" sx={{ p: 2, mb: 2 }}>
        <Stack direction={{ xs: "column", md: "row" }} spacing={2} alignItems={{ md: "center" }} role="search" aria-label="Filter jobs">
          <TextField
            label="Search name or description"
            size="small"
            value={shownSearch}
            onChange={(event) => setTyped({ search: event.target.value, label: shownLabel })}
            sx={{ minWidth: 260 }}
          />
          <TextField
            label="Label (key or key=value)"
            size="small"
            value={shownLabel}
            onChange={(event) => setTyped({ search: shownSearch, label: event.target.value })}
          />
          <TextField select label="Show" size="small" value={archived} onChange={(event) => set({ archived: event.target.value === "false" ? null : event.target.value })} sx={{ minWidth: 160 }}>
            <MenuItem value="false">Active jobs</MenuItem>
            <MenuItem value="true">Archived jobs</MenuItem>
            <MenuItem value="all">All jobs</MenuItem>
          </TextField>
          <TextField select label="Order by" size="small" value={ordering} onChange={(event) => set({ ordering: event.target.value === "name" ? null : event.target.value })} sx={{ minWidth: 200 }}>
            {ORDERINGS.map((o) => (
              <MenuItem key={o.value} value={o.value}>
                {o.label}
              </MenuItem>
            ))}
          </TextField>
          <FormControlLabel
            control={<Checkbox checked={mine} onChange={(event) => set({ mine: event.target.checked ? "1" : null })} />}
            label="Only mine"
            sx={{ whiteSpace: "nowrap", flexShrink: 0 }}
          />
          {filtered ? (
            <Button sx={{ whiteSpace: "nowrap", flexShrink: 0 }} onClick={() => setParams(new URLSearchParams(), { replace: true })}>
              Clear filters
            </Button>
          ) : null}
        </Stack>
      </Paper>
      {jobs.isError ? <ErrorAlert error={jobs.error} /> : null}
      {jobs.isPending ? (
        <PageLoading label="Loading jobs" />
      ) : jobs.data ? (
        jobs.data.count === 0 ? (
          <Paper variant="outlined" sx={{ p: 4, textAlign: "center" }}>
            <Typography variant="h6" component="h2" gutterBottom>
              {filtered ? "No job matches these filters" : "No jobs yet"}
            </Typography>
            <Typography color="text.secondary" sx={{ mb: 2 }}>
              {filtered
                ? "Change or clear the filters to see more."
                : "Create a job from scratch, or import one exported from another installation."}
            </Typography>
            {filtered ? (
              <Button onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</Button>
            ) : (
              <Stack direction="row" spacing={1} justifyContent="center">
                <GatedLink needs="editJobs" to="/jobs/new" variant="contained" startIcon={<Add />}>
                  New job
                </GatedLink>
                <GatedLink needs="editJobs" to="/jobs/import" startIcon={<UploadFile />}>
                  Import
                </GatedLink>
              </Stack>
            )}
          </Paper>
        ) : (
          <Paper variant="outlined">
            <TableContainer>
              <Table size="small" aria-label="Jobs">
                <TableHead>
                  <TableRow>
                    <TableCell>Name</TableCell>
                    <TableCell>Version</TableCell>
                    <TableCell>Steps</TableCell>
                    <TableCell>Parameters</TableCell>
                    <TableCell>Updated</TableCell>
                    <TableCell align="right">Actions</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {jobs.data.results.map((job) => (
                    <JobRow key={job.id} job={job} />
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
            <TablePagination
              component="div"
              count={jobs.data.count}
              page={page - 1}
              rowsPerPage={pageSize}
              rowsPerPageOptions={SIZES}
              onPageChange={(_, next) => set({ page: next === 0 ? null : String(next + 1) }, true)}
              onRowsPerPageChange={(event) => set({ page_size: event.target.value === "25" ? null : event.target.value })}
            />
          </Paper>
        )
      ) : null}
    </>
  );
}

function JobRow({ job }: { job: Job }) {
  const parameters = job.parameters as unknown as Parameter[];
  return (
    <TableRow hover>
      <TableCell sx={{ maxWidth: 420 }}>
        <Stack direction="row" spacing={1} alignItems="center">
          <MuiLink component={Link} to={`/jobs/${job.id}`} fontWeight={500}>
            {job.name}
          </MuiLink>
          {job.archived ? <Chip size="small" icon={<Archive />} label="Archived" variant="outlined" /> : null}
        </Stack>
        {job.description ? (
          <Typography variant="body2" color="text.secondary" noWrap title={job.description}>
            {job.description}
          </Typography>
        ) : null}
      </TableCell>
      <TableCell>v{job.version}</TableCell>
      <TableCell>{job.steps.length}</TableCell>
      <TableCell sx={{ maxWidth: 280 }}>
        {parameters.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            none
          </Typography>
        ) : (
          <Box sx={{ display: "flex", flexWrap: "wrap", gap: 0.5 }}>
            {parameters.slice(0, 5).map((p) => (
              <Chip key={p.name} size="small" label={`${p.name}: ${p.type}`} sx={{ fontFamily: "monospace" }} />
            ))}
            {parameters.length > 5 ? <Chip size="small" label={`+${parameters.length - 5} more`} /> : null}
          </Box>
        )}
      </TableCell>
      <TableCell>
        <Tooltip title={new Date(job.updated_at).toLocaleString()}>
          <span>{formatWhen(job.updated_at)}</span>
        </Tooltip>
      </TableCell>
      <TableCell align="right" sx={{ whiteSpace: "nowrap" }}>
        <GatedLink
          needs="launch"
          size="small"
          to={`/jobs/${job.id}/launch`}
          startIcon={<PlayArrow />}
          disabled={job.archived}
          aria-label={`Launch ${job.name}`}
        >
          Launch
        </GatedLink>
        <GatedLink
          needs="editJobs"
          size="small"
          to={`/jobs/${job.id}/edit`}
          startIcon={<Edit />}
          disabled={job.archived}
          aria-label={`Edit ${job.name}`}
        >
          Edit
        </GatedLink>
      </TableCell>
    </TableRow>
  );
}
