// Run history: every filter of the API (job, state, trigger, who, target, time range) in the
// URL; runs still going refresh by themselves.
import {
  Button,
  Checkbox,
  Chip,
  FormControl,
  FormControlLabel,
  InputLabel,
  LinearProgress,
  ListItemText,
  MenuItem,
  OutlinedInput,
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
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap, type components } from "../../api/client";
import { useSession } from "../../auth/session";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { StatusChip, stateLabel, TERMINAL_RUN } from "../../components/StatusChip";
import { Time } from "../../components/Time";
import { formatDuration } from "../../lib/format";
import { useDebouncedParam } from "../../lib/useDebouncedParam";

type Run = components["schemas"]["Run"];
type RunStatus = Run["status"];
type Trigger = Run["trigger"];

const STATES: RunStatus[] = ["pending", "running", "succeeded", "failed", "canceled", "timed_out"];
const TRIGGERS: { value: Trigger; label: string }[] = [
  { value: "manual", label: "Manual" },
  { value: "schedule", label: "Schedule" },
  { value: "api_token", label: "API token" },
  { value: "retry", label: "Retry" },
  { value: "imported", label: "Imported" },
];
const PAGE_SIZES = [25, 50, 100];
const SORTABLE = ["created_at", "started_at", "finished_at", "job_name", "status"];

/** `datetime-local` value (the viewer's zone) <-> ISO in the URL */
function toLocalInput(iso: string): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

function fromLocalInput(value: string): string {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

function MultiSelect<T extends string>({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: T[];
  options: { value: T; label: string }[];
  onChange: (value: T[]) => void;
}) {
  const id = `filter-${label.toLowerCase()}`;
  return (
    <FormControl size="small" sx={{ minWidth: 170 }}>
      <InputLabel id={`${id}-label`}>{label}</InputLabel>
      <Select<T[]>
        labelId={`${id}-label`}
        multiple
        value={value}
        onChange={(event) => onChange((typeof event.target.value === "string" ? event.target.value.split(",") : event.target.value) as T[])}
        input={<OutlinedInput label={label} />}
        renderValue={(selected) => selected.map((item) => options.find((option) => option.value === item)?.label ?? item).join(", ")}
      >
        {options.map((option) => (
          <MenuItem key={option.value} value={option.value}>
            <Checkbox checked={value.includes(option.value)} size="small" />
            <ListItemText primary={option.label} />
          </MenuItem>
        ))}
      </Select>
    </FormControl>
  );
}

export default function RunsPage() {
  const { me } = useSession();
  const [params, setParams] = useSearchParams();
  const set = (changes: Record<string, string | string[] | null>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          next.delete(key);
          if (Array.isArray(value)) value.forEach((item) => next.append(key, item));
          else if (value) next.set(key, value);
        }
        if (!("page" in changes)) next.delete("page");
        return next;
      },
      { replace: true },
    );
  const status = params.getAll("status") as RunStatus[];
  const trigger = params.getAll("trigger") as Trigger[];
  const search = params.get("search") ?? "";
  const job = params.get("job") ?? "";
  const target = params.get("target") ?? "";
  const requestedBy = params.get("requested_by") ?? "";
  const after = params.get("created_after") ?? "";
  const before = params.get("created_before") ?? "";
  const ordering = params.get("ordering") ?? "-created_at";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;

  const [searchInput, setSearchInput] = useDebouncedParam(search, (value) => set({ search: value }));

  const query = useQuery({
    queryKey: ["runs", "list", params.toString()],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/runs/", {
          params: {
            query: {
              page,
              page_size: pageSize,
              ordering,
              ...(status.length ? { status } : {}),
              ...(trigger.length ? { trigger } : {}),
              ...(search ? { search } : {}),
              ...(job ? { job } : {}),
              ...(target ? { target } : {}),
              ...(requestedBy ? { requested_by: requestedBy } : {}),
              ...(after ? { created_after: after } : {}),
              ...(before ? { created_before: before } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    // runs still going are shown as they change; new runs (a schedule's, a colleague's) appear
    // within 15 s on an otherwise quiet list
    refetchInterval: (q) => (q.state.data?.results.some((run) => !TERMINAL_RUN.has(run.status)) ? 3000 : 15_000),
  });
  const rows = query.data?.results ?? [];
  const filtered = Boolean(status.length || trigger.length || search || job || target || requestedBy || after || before);
  const sortField = ordering.replace(/^-/, "");
  const sortDirection = ordering.startsWith("-") ? "desc" : "asc";

  return (
    <>
      <PageHeader title="Runs" subtitle="Every run of every job, newest first." />
      <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap" alignItems="center" sx={{ mb: 2 }}>
        <TextField size="small" label="Job name" value={searchInput} onChange={(event) => setSearchInput(event.target.value)} />
        <MultiSelect label="State" value={status} options={STATES.map((value) => ({ value, label: stateLabel(value) }))} onChange={(value) => set({ status: value })} />
        <MultiSelect label="Trigger" value={trigger} options={TRIGGERS} onChange={(value) => set({ trigger: value })} />
        <TextField
          size="small"
          type="datetime-local"
          label="From"
          value={toLocalInput(after)}
          onChange={(event) => set({ created_after: fromLocalInput(event.target.value) })}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          size="small"
          type="datetime-local"
          label="Until"
          value={toLocalInput(before)}
          onChange={(event) => set({ created_before: fromLocalInput(event.target.value) })}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        {me ? (
          <FormControlLabel
            control={<Checkbox checked={requestedBy === me.id} onChange={(event) => set({ requested_by: event.target.checked ? me.id : null })} />}
            label="Started by me"
          />
        ) : null}
        {job ? <Chip label="One job" onDelete={() => set({ job: null })} /> : null}
        {target ? <Chip label="One target" onDelete={() => set({ target: null })} /> : null}
        {requestedBy && requestedBy !== me?.id ? <Chip label="One person" onDelete={() => set({ requested_by: null })} /> : null}
        {filtered ? (
          <Button onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</Button>
        ) : null}
      </Stack>
      {query.error ? <ErrorAlert error={query.error} /> : null}
      <TableContainer component={Paper} variant="outlined">
        {query.isFetching ? <LinearProgress aria-label="Refreshing" /> : null}
        <Table size="small" aria-label="Runs">
          <TableHead>
            <TableRow>
              {[
                ["job_name", "Job"],
                ["status", "State"],
                ["", "Targets"],
                ["", "Trigger"],
                ["created_at", "Started"],
                ["", "Duration"],
              ].map(([field, label]) => (
                <TableCell key={label} sortDirection={sortField === field ? sortDirection : false}>
                  {field && SORTABLE.includes(field) ? (
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
            {rows.map((run) => {
              const counts = (run.counts ?? {}) as Record<string, number>;
              const bad = (counts.failed ?? 0) + (counts.unreachable ?? 0) + (counts.timed_out ?? 0) + (counts.lost ?? 0);
              return (
                <TableRow key={run.id} hover>
                  <TableCell>
                    <Link to={`/runs/${run.id}`}>{run.job_name}</Link>
                    <Typography variant="caption" color="text.secondary" component="div">
                      version {run.job_version}
                    </Typography>
                  </TableCell>
                  <TableCell>
                    <StatusChip state={run.status} />
                  </TableCell>
                  <TableCell>
                    {run.target_count.toLocaleString()}
                    {bad ? <Typography variant="caption" color="error" component="div">{bad} not ok</Typography> : null}
                  </TableCell>
                  <TableCell>{TRIGGERS.find((item) => item.value === run.trigger)?.label ?? run.trigger}</TableCell>
                  <TableCell>
                    <Time value={run.started_at ?? run.created_at} />
                  </TableCell>
                  <TableCell>{formatDuration(run.duration_ms)}</TableCell>
                </TableRow>
              );
            })}
            {!query.isPending && rows.length === 0 ? (
              <TableRow>
                <TableCell colSpan={6}>
                  <Typography color="text.secondary" sx={{ py: 2 }}>
                    {filtered ? (
                      "No run matches these filters."
                    ) : (
                      <>
                        No runs yet. Open a <Link to="/jobs">job</Link> and launch it.
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
