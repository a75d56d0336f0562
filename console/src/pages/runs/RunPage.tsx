// The live run view: the run's and every target's state as they change, counts by state, the
// summary's groups of identical results (the few that differ first), a per-target grid
// filterable by state and host, and the selected target's steps and output, all from one
// stream. URL: /runs/:id?state=failed&host=web&page=2&target=<run target id>
import {
  Alert,
  Box,
  Button,
  Card,
  CardActionArea,
  CardContent,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  FormControl,
  InputLabel,
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
  TextField,
  Typography,
} from "@mui/material";
import Cancel from "@mui/icons-material/Cancel";
import Replay from "@mui/icons-material/Replay";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { StatusChip, stateLabel, TERMINAL_RUN } from "../../components/StatusChip";
import { Time } from "../../components/Time";
import { stripAnsi } from "../../lib/ansi";
import { formatDuration, plural } from "../../lib/format";
import { useDebouncedParam } from "../../lib/useDebouncedParam";
import { applyStates, runKey, runTargetsKey, throttle, type RunDetail, type RunTarget, type RunTargetPage } from "./runCache";
import { useRunStream, type OutputEvent, type RunStreamEvent } from "./runStream";
import { OutputBus, TargetPanel } from "./TargetPanel";

const TARGET_STATES = ["pending", "queued", "running", "succeeded", "failed", "unreachable", "canceled", "timed_out", "skipped", "lost"];
const PAGE_SIZES = [25, 100, 500];

function useRunParams() {
  const [params, setParams] = useSearchParams();
  const update = useCallback(
    (changes: Record<string, string | null>) =>
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(changes)) {
            if (value === null || value === "") next.delete(key);
            else next.set(key, value);
          }
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  return {
    state: params.get("state") ?? "",
    host: params.get("host") ?? "",
    page: Math.max(1, Number(params.get("page")) || 1),
    pageSize: PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 100,
    target: params.get("target") ?? "",
    update,
  };
}

function RunActions({ run }: { run: RunDetail }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState(false);
  const finished = TERMINAL_RUN.has(run.status);
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/runs/{id}/cancel/", { params: { path: { id: run.id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: runKey(run.id) }),
    onSettled: () => setConfirm(false),
  });
  const retry = useMutation({
    mutationFn: (only: "failed" | "all") =>
      unwrap(api.POST("/api/v1/runs/{id}/retry/", { params: { path: { id: run.id } }, body: { only } })),
    onSuccess: (created) => navigate(`/runs/${created.id}`),
  });
  // a retry of the failed runs again every target that did not succeed
  const notOk = run.target_count - (((run.summary?.counts ?? {}) as Record<string, number>).succeeded ?? 0);
  return (
    <>
      <GatedButton
        needs="cancel"
        variant="outlined"
        color="error"
        startIcon={<Cancel />}
        disabled={finished || Boolean(run.cancel_requested_at) || cancel.isPending}
        onClick={() => setConfirm(true)}
      >
        {run.cancel_requested_at && !finished ? "Canceling…" : "Cancel run"}
      </GatedButton>
      <GatedButton
        needs="retry"
        variant="contained"
        startIcon={<Replay />}
        disabled={!finished || notOk === 0 || retry.isPending || run.imported}
        onClick={() => retry.mutate("failed")}
        title={finished && notOk === 0 ? "Every target succeeded: nothing to retry." : undefined}
      >
        {finished ? `Retry failed (${notOk})` : "Retry failed"}
      </GatedButton>
      <Dialog open={confirm} onClose={() => setConfirm(false)} aria-labelledby="cancel-title">
        <DialogTitle id="cancel-title">Cancel this run?</DialogTitle>
        <DialogContent>
          <DialogContentText>
            Targets not started yet end canceled at once; running steps are stopped (SIGTERM, then
            SIGKILL). What already ran on a target is not undone.
          </DialogContentText>
          {cancel.error ? <ErrorAlert error={cancel.error} /> : null}
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setConfirm(false)}>Keep running</Button>
          <Button color="error" variant="contained" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel run
          </Button>
        </DialogActions>
      </Dialog>
      {retry.error ? (
        <Box sx={{ position: "fixed", bottom: 16, right: 16, zIndex: 1400, maxWidth: 480 }}>
          <ErrorAlert error={retry.error} onClose={() => retry.reset()} />
        </Box>
      ) : null}
    </>
  );
}

function Counts({ run, selected, onSelect }: { run: RunDetail; selected: string; onSelect: (state: string) => void }) {
  const counts = run.summary?.counts ?? run.counts ?? {};
  const entries = TARGET_STATES.filter((state) => (counts as Record<string, number>)[state]);
  return (
    <Stack direction="row" spacing={1} useFlexGap flexWrap="wrap" role="group" aria-label="Targets by state">
      <Chip
        label={`All ${run.target_count}`}
        variant={selected ? "outlined" : "filled"}
        onClick={() => onSelect("")}
        aria-pressed={!selected}
      />
      {entries.map((state) => (
        <Chip
          key={state}
          label={`${stateLabel(state)} ${(counts as Record<string, number>)[state]}`}
          variant={selected === state ? "filled" : "outlined"}
          color={state === "succeeded" ? "success" : ["failed", "unreachable", "timed_out", "lost"].includes(state) ? "error" : "default"}
          onClick={() => onSelect(selected === state ? "" : state)}
          aria-pressed={selected === state}
        />
      ))}
    </Stack>
  );
}

function SummaryGroups({ run, onPick }: { run: RunDetail; onPick: (state: string) => void }) {
  const groups = run.summary?.groups ?? [];
  if (!groups.length) return null;
  return (
    <Box component="section" aria-labelledby="groups-title">
      <Typography id="groups-title" variant="h6" component="h2" sx={{ mb: 1 }}>
        Results, the ones that differ first
      </Typography>
      <Stack spacing={1}>
        {groups.map((group, index) => (
          <Card key={`${group.status}-${group.exit_code}-${index}`} variant="outlined">
            <CardActionArea onClick={() => onPick(group.status)} aria-label={`Show the ${group.description}`}>
              <CardContent sx={{ py: 1.5 }}>
                <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 0.5 }}>
                  <StatusChip state={group.status} />
                  <Typography variant="subtitle2" component="span">
                    {plural(group.count, "target")}
                    {group.exit_code !== null ? `: exit ${group.exit_code}` : ""}
                    {group.count > 1 && group.same_output ? ", same output" : ""}
                  </Typography>
                </Stack>
                {group.reason && group.status !== "succeeded" ? (
                  <Typography variant="body2">{group.reason}</Typography>
                ) : null}
                {group.output_sample ? (
                  <Typography
                    variant="body2"
                    component="pre"
                    sx={{ fontFamily: "monospace", whiteSpace: "pre-wrap", wordBreak: "break-all", m: 0, maxHeight: 80, overflow: "hidden", color: "text.secondary" }}
                  >
                    {stripAnsi(group.output_sample).split("\n").slice(0, 3).join("\n")}
                  </Typography>
                ) : null}
                <Typography variant="caption" color="text.secondary">
                  {group.targets.join(", ")}
                  {group.more_targets ? ` and ${group.more_targets.toLocaleString()} more` : ""}
                </Typography>
              </CardContent>
            </CardActionArea>
          </Card>
        ))}
        {run.summary.more_groups ? (
          <Typography variant="body2" color="text.secondary">
            {plural(run.summary.more_groups, "more group")}: filter the targets below by state.
          </Typography>
        ) : null}
      </Stack>
    </Box>
  );
}

/** One row of the grid, re-rendered only when its own target changed: a state change on the
 * stream touches one row of a page of up to 500 (the rows of the cached page keep their
 * identity when another row changes, and when a refetch brings them back unchanged). */
const TargetRow = memo(function TargetRow({
  row,
  selected,
  state,
  host,
  page,
  update,
}: {
  row: RunTarget;
  selected: boolean;
  state: string;
  host: string;
  page: number;
  update: ReturnType<typeof useRunParams>["update"];
}) {
  const done = row.steps.filter((step) => step.status !== "pending" && step.status !== "running").length;
  return (
    <TableRow hover selected={selected} onClick={() => update({ target: row.target_id })} sx={{ cursor: "pointer" }}>
      <TableCell>
        <Link
          to={`?${new URLSearchParams({ ...(state ? { state } : {}), ...(host ? { host } : {}), page: String(page), target: row.target_id })}`}
          onClick={(event) => {
            event.preventDefault();
            update({ target: row.target_id });
          }}
        >
          {row.target_name}
        </Link>
      </TableCell>
      <TableCell>
        <StatusChip state={row.status} />
      </TableCell>
      <TableCell>{row.exit_code ?? "—"}</TableCell>
      <TableCell>{row.steps.length ? `${done}/${row.steps.length}` : "—"}</TableCell>
      <TableCell>{formatDuration(row.duration_ms)}</TableCell>
      <TableCell sx={{ maxWidth: 360, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }} title={row.reason || row.pending_reason}>
        {row.reason || row.pending_reason || ""}
      </TableCell>
    </TableRow>
  );
});

function TargetGrid({
  runId,
  filters,
}: {
  runId: string;
  filters: ReturnType<typeof useRunParams>;
}) {
  const { state, host, page, pageSize, target, update } = filters;
  const [hostInput, setHostInput] = useDebouncedParam(host, (value) => update({ host: value, page: null }));
  const query = useQuery({
    queryKey: [...runTargetsKey(runId), { state, host, page, pageSize }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/runs/{id}/targets/", {
          params: {
            path: { id: runId },
            query: { page, page_size: pageSize, ...(state ? { status: [state as RunTarget["status"]] } : {}), ...(host ? { name: host } : {}) },
          } as never,
        }),
      ) as Promise<RunTargetPage>,
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.results ?? [];
  return (
    <Box component="section" aria-labelledby="targets-title">
      <Stack direction={{ xs: "column", sm: "row" }} spacing={2} alignItems={{ sm: "center" }} sx={{ mb: 1 }}>
        <Typography id="targets-title" variant="h6" component="h2" sx={{ flexGrow: 1 }}>
          Targets
        </Typography>
        <FormControl size="small" sx={{ minWidth: 160 }}>
          <InputLabel id="state-filter-label">State</InputLabel>
          <Select
            labelId="state-filter-label"
            label="State"
            value={state}
            onChange={(event) => update({ state: event.target.value, page: null })}
          >
            <MenuItem value="">Any state</MenuItem>
            {TARGET_STATES.map((value) => (
              <MenuItem key={value} value={value}>
                {stateLabel(value)}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <TextField size="small" label="Host" value={hostInput} onChange={(event) => setHostInput(event.target.value)} />
      </Stack>
      {query.error ? <ErrorAlert error={query.error} /> : null}
      <TableContainer component={Paper} variant="outlined">
        <Table size="small" aria-label="Targets of this run">
          <TableHead>
            <TableRow>
              <TableCell>Target</TableCell>
              <TableCell>State</TableCell>
              <TableCell>Exit</TableCell>
              <TableCell>Steps</TableCell>
              <TableCell>Duration</TableCell>
              <TableCell>Why</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((row) => (
              <TargetRow key={row.id} row={row} selected={row.target_id === target} state={state} host={host} page={page} update={update} />
            ))}
            {!query.isPending && rows.length === 0 ? (
              <TableRow>
                <TableCell colSpan={6}>
                  <Typography color="text.secondary">
                    {state || host ? "No target of this run matches these filters." : "This run has no targets."}
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
        onPageChange={(_, next) => update({ page: String(next + 1) })}
        onRowsPerPageChange={(event) => update({ page_size: event.target.value, page: null })}
      />
    </Box>
  );
}

export default function RunPage() {
  const { id = "" } = useParams();
  const filters = useRunParams();
  const client = useQueryClient();
  const bus = useMemo(() => new OutputBus(), []);
  const run = useQuery({
    queryKey: runKey(id),
    queryFn: () => unwrap(api.GET("/api/v1/runs/{id}/", { params: { path: { id } } })) as Promise<RunDetail>,
  });
  const live = Boolean(run.data && !TERMINAL_RUN.has(run.data.status));
  const refresh = useRef(
    // counts and groups: at most every 2 s (200 open run pages are 100 requests a second)
    throttle(() => {
      client.invalidateQueries({ queryKey: runKey(id), exact: true });
      // the grid's pages too: a filtered page's members change with their states
      client.invalidateQueries({ queryKey: runTargetsKey(id), predicate: (query) => query.queryKey[3] !== "one" });
    }, 2000),
  );
  useEffect(() => {
    const throttled = refresh.current;
    return () => throttled.cancel();
  }, []);

  const onEvents = useCallback(
    (events: RunStreamEvent[]) => {
      if (applyStates(client, id, events)) refresh.current.call();
      const output = events.filter((event): event is OutputEvent => event.kind === "output");
      if (output.length) bus.publish(output);
      bus.changed(events.flatMap((event) => (event.kind === "state" && event.run_target_id ? [event.run_target_id] : [])));
      if (events.some((event) => event.kind === "end")) {
        client.invalidateQueries({ queryKey: runKey(id) });
      }
    },
    [client, id, bus],
  );
  // the stream is opened once the run is known, and kept while the page is open: output of a
  // finished run is read from the API instead
  const [streaming, setStreaming] = useState(false);
  if (live && !streaming) setStreaming(true);
  useRunStream(id, streaming, onEvents);

  if (run.isPending) return <PageLoading />;
  if (run.error) return <ErrorAlert error={run.error} />;
  const data = run.data;
  return (
    <Stack spacing={3}>
      <PageHeader
        title={`Run of ${data.job_name}`}
        subtitle={
          <Stack direction="row" spacing={1} alignItems="center" useFlexGap flexWrap="wrap">
            <StatusChip state={data.status} size="medium" />
            <span>
              <Link to={`/jobs/${data.job}`}>version {data.job_version}</Link> · {data.trigger} · {plural(data.target_count, "target")} ·
              started <Time value={data.started_at ?? data.created_at} />
              {data.duration_ms !== null ? ` · took ${formatDuration(data.duration_ms)}` : ""}
              {data.retry_of ? (
                <>
                  {" · retry of "}
                  <Link to={`/runs/${data.retry_of}`}>an earlier run</Link>
                </>
              ) : null}
            </span>
          </Stack>
        }
        actions={<RunActions run={data} />}
      />
      {data.status === "pending" && data.pending_reason ? (
        <Alert severity="info">Pending: {data.pending_reason}</Alert>
      ) : null}
      {data.status_reason ? <Alert severity={data.status === "succeeded" ? "info" : "warning"}>{data.status_reason}</Alert> : null}
      {data.selector ? (
        <Typography variant="body2" color="text.secondary">
          Selector: <code>{data.selector}</code>
        </Typography>
      ) : null}
      <Counts run={data} selected={filters.state} onSelect={(state) => filters.update({ state, page: null })} />
      <SummaryGroups run={data} onPick={(state) => filters.update({ state, page: null })} />
      <TargetGrid runId={id} filters={filters} />
      {filters.target ? (
        <TargetPanel key={filters.target} runId={id} targetId={filters.target} bus={bus} onClose={() => filters.update({ target: null })} />
      ) : (
        <Typography color="text.secondary">Select a target to see its steps and output.</Typography>
      )}
    </Stack>
  );
}
