// /schedules: every schedule, server-paged, with the API's filters (job, active or paused,
// kind, search) in the URL; each row's next firing in the schedule's own zone and in the
// viewer's, and its latest firing's outcome.
import {
  Button,
  Chip,
  FormControl,
  InputLabel,
  LinearProgress,
  MenuItem,
  Paper,
  Select,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TableSortLabel,
  TextField,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { Time } from "../../components/Time";
import { useDebouncedParam } from "../../lib/useDebouncedParam";
import { GatedLink } from "../jobs/GatedLink";
import { describeTiming, KINDS, type Kind } from "./model";
import { NextFiring, OutcomeChip, ScheduleState } from "./parts";

const PAGE_SIZES = [25, 50, 100];

export default function SchedulesListPage() {
  const [params, setParams] = useSearchParams();
  const set = (changes: Record<string, string | null>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (value) next.set(key, value);
          else next.delete(key);
        }
        if (!("page" in changes)) next.delete("page");
        return next;
      },
      { replace: true },
    );
  const search = params.get("search") ?? "";
  const job = params.get("job") ?? "";
  const kind = (params.get("kind") ?? "") as Kind | "";
  const enabled = params.get("enabled") ?? "";
  const ordering = params.get("ordering") ?? "name";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [searchInput, setSearchInput] = useDebouncedParam(search, (value) => set({ search: value }));

  const jobs = useQuery({
    queryKey: ["jobs", "names"],
    queryFn: () => unwrap(api.GET("/api/v1/jobs/", { params: { query: { page_size: 200, ordering: "name" } } })),
    staleTime: 60_000,
  });
  const query = useQuery({
    queryKey: ["schedules", "list", params.toString()],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/schedules/", {
          params: {
            query: {
              page,
              page_size: pageSize,
              ordering,
              ...(search ? { search } : {}),
              ...(job ? { job } : {}),
              ...(kind ? { kind } : {}),
              ...(enabled ? { enabled: enabled === "true" } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const rows = query.data?.results ?? [];
  const filtered = Boolean(search || job || kind || enabled);
  const sortField = ordering.replace(/^-/, "");
  const sortDirection = ordering.startsWith("-") ? "desc" : "asc";
  const jobOptions = jobs.data?.results ?? [];

  return (
    <>
      <PageHeader
        title="Schedules"
        subtitle="Jobs that run by themselves: when each fires next, in its own zone and in yours."
        actions={
          <GatedLink needs="editSchedules" to="/schedules/new" variant="contained" startIcon={<Add />}>
            New schedule
          </GatedLink>
        }
      />
      <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap" alignItems="center" sx={{ mb: 2 }}>
        <TextField size="small" label="Search" value={searchInput} onChange={(event) => setSearchInput(event.target.value)} helperText="Name, description or job" />
        <FormControl size="small" sx={{ minWidth: 200 }}>
          <InputLabel id="filter-job-label">Job</InputLabel>
          <Select labelId="filter-job-label" label="Job" value={jobOptions.some((item) => item.id === job) || !job ? job : ""} onChange={(event) => set({ job: event.target.value })}>
            <MenuItem value="">
              <em>Any job</em>
            </MenuItem>
            {jobOptions.map((item) => (
              <MenuItem key={item.id} value={item.id}>
                {item.name}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <FormControl size="small" sx={{ minWidth: 150 }}>
          <InputLabel id="filter-state-label">State</InputLabel>
          <Select labelId="filter-state-label" label="State" value={enabled} onChange={(event) => set({ enabled: event.target.value })}>
            <MenuItem value="">
              <em>Active or paused</em>
            </MenuItem>
            <MenuItem value="true">Active</MenuItem>
            <MenuItem value="false">Paused</MenuItem>
          </Select>
        </FormControl>
        <FormControl size="small" sx={{ minWidth: 150 }}>
          <InputLabel id="filter-kind-label">Kind</InputLabel>
          <Select labelId="filter-kind-label" label="Kind" value={kind} onChange={(event) => set({ kind: event.target.value })}>
            <MenuItem value="">
              <em>Any kind</em>
            </MenuItem>
            {KINDS.map((item) => (
              <MenuItem key={item.value} value={item.value}>
                {item.label}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        {job && !jobOptions.some((item) => item.id === job) ? <Chip label="One job" onDelete={() => set({ job: null })} /> : null}
        {filtered ? <Button onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</Button> : null}
      </Stack>
      {query.error ? <ErrorAlert error={query.error} /> : null}
      <TableContainer component={Paper} variant="outlined">
        {query.isFetching ? <LinearProgress aria-label="Refreshing" /> : null}
        <Table size="small" aria-label="Schedules">
          <TableHead>
            <TableRow>
              {[
                ["name", "Name"],
                ["", "Job"],
                ["", "When"],
                ["next_fire_at", "Next firing"],
                ["", "Last firing"],
                ["", "State"],
              ].map(([field, label]) => (
                <TableCell key={label} sortDirection={field && sortField === field ? sortDirection : false}>
                  {field ? (
                    <TableSortLabel
                      active={sortField === field}
                      direction={sortField === field ? sortDirection : "asc"}
                      onClick={() => set({ ordering: sortField === field && sortDirection === "asc" ? `-${field}` : field })}
                    >
                      {label}
                    </TableSortLabel>
                  ) : (
                    label
                  )}
                </TableCell>
              ))}
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((schedule) => (
              <TableRow key={schedule.id} hover>
                <TableCell>
                  <Link to={`/schedules/${schedule.id}`}>{schedule.name}</Link>
                </TableCell>
                <TableCell>
                  <Link to={`/jobs/${schedule.job}`}>{schedule.job_name}</Link>
                  <Typography variant="caption" color="text.secondary" component="div">
                    {schedule.job_version ? `version ${schedule.job_version}` : "latest version"}
                  </Typography>
                </TableCell>
                <TableCell>
                  {describeTiming(schedule)}
                  <Typography variant="caption" color="text.secondary" component="div">
                    {schedule.timezone}
                  </Typography>
                </TableCell>
                <TableCell>
                  <NextFiring schedule={schedule} />
                </TableCell>
                <TableCell>
                  {schedule.last_firing ? (
                    <>
                      <OutcomeChip outcome={schedule.last_firing.outcome} />
                      <Typography variant="caption" color="text.secondary" component="div">
                        <Time value={schedule.last_firing.scheduled_for} />
                      </Typography>
                    </>
                  ) : (
                    <Typography variant="body2" color="text.secondary">
                      not yet
                    </Typography>
                  )}
                </TableCell>
                <TableCell>
                  <ScheduleState schedule={schedule} />
                </TableCell>
              </TableRow>
            ))}
            {!query.isPending && rows.length === 0 && !query.error ? (
              <TableRow>
                <TableCell colSpan={6}>
                  <Typography color="text.secondary" sx={{ py: 2 }}>
                    {filtered ? (
                      "No schedule matches these filters."
                    ) : (
                      <>
                        No schedules yet. Create one with <Link to="/schedules/new">New schedule</Link>, or open a{" "}
                        <Link to="/jobs">job</Link> and choose Schedule.
                      </>
                    )}
                  </Typography>
                </TableCell>
              </TableRow>
            ) : null}
          </TableBody>
        </Table>
      </TableContainer>
      <TablePagination
        component="div"
        count={query.data?.count ?? 0}
        page={page - 1}
        rowsPerPage={pageSize}
        rowsPerPageOptions={PAGE_SIZES}
        onPageChange={(_, next) => set({ page: String(next + 1) })}
        onRowsPerPageChange={(event) => set({ page_size: event.target.value })}
      />
    </>
  );
}
