// /schedules/:id: a schedule's definition, its next fire times, pause/resume, edit and delete
// (managers and admins, as the server has it), and its firing history: every due time and what
// became of it (fired with its run, skipped with why, missed, failed to start), filtered by
// outcome and time range in the URL, paged.
import {
  Box,
  Button,
  Checkbox,
  FormControl,
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
  TextField,
  Typography,
} from "@mui/material";
import Delete from "@mui/icons-material/Delete";
import Edit from "@mui/icons-material/Edit";
import Pause from "@mui/icons-material/Pause";
import PlayArrow from "@mui/icons-material/PlayArrow";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { StatusChip } from "../../components/StatusChip";
import { Time } from "../../components/Time";
import { plural } from "../../lib/format";
import { ConfirmDialog } from "../jobs/dialogs";
import { GatedLink } from "../jobs/GatedLink";
import { describeTiming, formatWall, MISFIRE, OUTCOMES, OVERLAP, wallClock, type Firing, type Schedule } from "./model";
import { NextFiring, OutcomeChip, ScheduleState } from "./parts";
import { PreviewList } from "./PreviewList";

const PAGE_SIZES = [25, 50, 100];

/** `datetime-local` value (the viewer's zone) <-> ISO in the URL */
function toLocalInput(iso: string): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function fromLocalInput(value: string): string {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export default function SchedulePage() {
  const { id = "" } = useParams();
  const schedule = useQuery({
    queryKey: ["schedules", id],
    queryFn: () => unwrap(api.GET("/api/v1/schedules/{id}/", { params: { path: { id } } })),
    refetchInterval: 10_000,
  });
  if (schedule.isPending) return <PageLoading label="Loading the schedule" />;
  if (schedule.error) {
    return (
      <>
        <PageHeader title="Schedule" />
        <ErrorAlert error={schedule.error} />
        <Button component={Link} to="/schedules" sx={{ mt: 2 }}>
          Back to the schedules
        </Button>
      </>
    );
  }
  return <ScheduleView schedule={schedule.data} />;
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <Box component="dt" sx={{ color: "text.secondary" }}>
        {label}
      </Box>
      <Box component="dd" sx={{ m: 0 }}>
        {children}
      </Box>
    </>
  );
}

function wall(iso: string | null | undefined, zone: string): string {
  return iso ? `${formatWall(wallClock(iso, zone))} (${zone})` : "—";
}

function ScheduleView({ schedule }: { schedule: Schedule }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const zone = schedule.timezone || "UTC";
  const refresh = () => client.invalidateQueries({ queryKey: ["schedules"] });
  const toggle = useMutation({
    mutationFn: (pause: boolean) =>
      unwrap(
        pause
          ? api.POST("/api/v1/schedules/{id}/pause/", { params: { path: { id: schedule.id } } })
          : api.POST("/api/v1/schedules/{id}/resume/", { params: { path: { id: schedule.id } } }),
      ),
    onSuccess: (saved) => {
      client.setQueryData(["schedules", schedule.id], saved);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/schedules/{id}/", { params: { path: { id: schedule.id } } })),
    onSuccess: () => {
      void refresh();
      navigate("/schedules", { replace: true });
    },
  });
  const next = useQuery({
    queryKey: ["schedules", schedule.id, "next", schedule.revision, schedule.enabled, schedule.fired_count, schedule.next_fire_at],
    queryFn: () => unwrap(api.GET("/api/v1/schedules/{id}/next/", { params: { path: { id: schedule.id }, query: { count: 5 } } })),
  });
  const parameters = Object.entries((schedule.parameters ?? {}) as Record<string, unknown>);

  return (
    <>
      <PageHeader
        title={schedule.name}
        subtitle={
          <Stack direction="row" spacing={1} alignItems="center" component="span" flexWrap="wrap" useFlexGap>
            <ScheduleState schedule={schedule} />
            <span>
              runs <Link to={`/jobs/${schedule.job}`}>{schedule.job_name}</Link> ({schedule.job_version ? `pinned to version ${schedule.job_version}` : "its latest version"}) ·
              revision {schedule.revision} · fired {plural(schedule.fired_count, "time")}
            </span>
          </Stack>
        }
        actions={
          <>
            {schedule.enabled ? (
              <GatedButton needs="editSchedules" startIcon={<Pause />} onClick={() => toggle.mutate(true)} disabled={toggle.isPending} variant="outlined">
                Pause
              </GatedButton>
            ) : (
              <GatedButton needs="editSchedules" startIcon={<PlayArrow />} onClick={() => toggle.mutate(false)} disabled={toggle.isPending} variant="outlined">
                Resume
              </GatedButton>
            )}
            <GatedLink needs="editSchedules" to={`/schedules/${schedule.id}/edit`} startIcon={<Edit />} variant="outlined">
              Edit
            </GatedLink>
            <GatedButton needs="editSchedules" startIcon={<Delete />} color="error" onClick={() => setConfirmDelete(true)} variant="outlined">
              Delete
            </GatedButton>
          </>
        }
      />
      {toggle.error ? <ErrorAlert error={toggle.error} onClose={() => toggle.reset()} /> : null}
      <Stack direction={{ xs: "column", md: "row" }} spacing={2} sx={{ mb: 2 }} alignItems="stretch">
        <Paper variant="outlined" sx={{ p: 2, flex: 3 }} component="section" aria-labelledby="definition-heading">
          <Typography id="definition-heading" variant="h6" component="h2" sx={{ mb: 1 }}>
            Definition
          </Typography>
          <Box component="dl" sx={{ display: "grid", gridTemplateColumns: "max-content 1fr", columnGap: 2, rowGap: 0.75, m: 0 }}>
            <Row label="When">
              {describeTiming(schedule)} in {zone}
            </Row>
            <Row label="Next firing">
              <NextFiring schedule={schedule} />
            </Row>
            <Row label="Start">{wall(schedule.start_at, zone)}</Row>
            <Row label="End">{wall(schedule.end_at, zone)}</Row>
            <Row label="Maximum firings">{schedule.max_firings ?? "no maximum"}</Row>
            <Row label="Targets">{schedule.selector ? <code>{schedule.selector}</code> : "the job's default selector"}</Row>
            <Row label="Parameters">
              {parameters.length
                ? parameters.map(([name, value]) => (
                    <div key={name}>
                      <code>{name}</code>: {value === "********" ? <em>stored secret (hidden)</em> : <code>{JSON.stringify(value)}</code>}
                    </div>
                  ))
                : "the job's defaults"}
            </Row>
            <Row label="If the scheduler was down">
              {MISFIRE.find((item) => item.value === schedule.misfire_policy)?.label ?? schedule.misfire_policy} (grace {schedule.misfire_grace_seconds} s)
            </Row>
            <Row label="If the previous run still goes">{OVERLAP.find((item) => item.value === schedule.overlap_policy)?.label ?? schedule.overlap_policy}</Row>
            {schedule.description ? <Row label="Description">{schedule.description}</Row> : null}
            <Row label="Last changed">
              <Time value={schedule.updated_at} />
            </Row>
          </Box>
        </Paper>
        <Paper variant="outlined" sx={{ p: 2, flex: 2 }} component="section" aria-labelledby="next-heading">
          <Typography id="next-heading" variant="h6" component="h2">
            Next firings
          </Typography>
          {!schedule.enabled ? (
            <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
              Paused: these are the times it would fire once resumed.
            </Typography>
          ) : null}
          {next.error ? <ErrorAlert error={next.error} /> : null}
          <PreviewList items={next.data?.items ?? []} zone={zone} label="Next firings of this schedule" empty={next.isPending ? "Loading…" : "Nothing left to fire."} />
        </Paper>
      </Stack>
      <FiringHistory schedule={schedule} />
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${schedule.name}?`}
        confirm="Delete"
        danger
        busy={remove.isPending}
        error={remove.error}
        onConfirm={() => remove.mutate()}
        onClose={() => {
          setConfirmDelete(false);
          remove.reset();
        }}
      >
        It stops firing and its firing history goes with it. The runs it started stay.
      </ConfirmDialog>
    </>
  );
}

function FiringOutcome({ firing }: { firing: Firing }) {
  return (
    <Stack spacing={0.5} alignItems="flex-start">
      <Stack direction="row" spacing={1} alignItems="center">
        <OutcomeChip outcome={firing.outcome} />
        {firing.catch_up ? <Typography variant="caption">catch-up</Typography> : null}
      </Stack>
      {firing.reason ? (
        <Typography variant="body2" color="text.secondary">
          {firing.reason}
        </Typography>
      ) : null}
    </Stack>
  );
}

function FiringHistory({ schedule }: { schedule: Schedule }) {
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
  const outcome = params.getAll("outcome") as Firing["outcome"][];
  const since = params.get("since") ?? "";
  const until = params.get("until") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const firings = useQuery({
    queryKey: ["schedules", schedule.id, "firings", params.toString()],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/schedules/{id}/firings/", {
          params: {
            path: { id: schedule.id },
            query: {
              page,
              page_size: pageSize,
              ...(outcome.length ? { outcome } : {}),
              ...(since ? { since } : {}),
              ...(until ? { until } : {}),
            } as never,
          },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  });
  const rows = firings.data?.results ?? [];
  // a new firing changes the schedule too (its count, next due time, state): read it again
  const client = useQueryClient();
  const newest = rows[0] ? `${rows[0].id}:${rows[0].outcome}:${firings.data?.count}` : "";
  useEffect(() => {
    if (newest) void client.invalidateQueries({ queryKey: ["schedules", schedule.id], exact: true });
  }, [newest, client, schedule.id]);
  const filtered = Boolean(outcome.length || since || until);

  return (
    <Box component="section" aria-labelledby="history-heading">
      <Typography id="history-heading" variant="h6" component="h2" sx={{ mb: 1 }}>
        Firing history
      </Typography>
      <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap" alignItems="center" sx={{ mb: 2 }}>
        <FormControl size="small" sx={{ minWidth: 200 }}>
          <InputLabel id="filter-outcome-label">Outcome</InputLabel>
          <Select<string[]>
            labelId="filter-outcome-label"
            multiple
            value={outcome}
            onChange={(event) => set({ outcome: typeof event.target.value === "string" ? event.target.value.split(",") : event.target.value })}
            input={<OutlinedInput label="Outcome" />}
            renderValue={(selected) => selected.map((item) => OUTCOMES.find((option) => option.value === item)?.label ?? item).join(", ")}
          >
            {OUTCOMES.map((option) => (
              <MenuItem key={option.value} value={option.value}>
                <Checkbox checked={outcome.includes(option.value)} size="small" />
                <ListItemText primary={option.label} />
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <TextField
          size="small"
          type="datetime-local"
          label="Due from"
          value={toLocalInput(since)}
          onChange={(event) => set({ since: fromLocalInput(event.target.value) })}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          size="small"
          type="datetime-local"
          label="Due until"
          value={toLocalInput(until)}
          onChange={(event) => set({ until: fromLocalInput(event.target.value) })}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        {filtered ? <Button onClick={() => set({ outcome: null, since: null, until: null })}>Clear filters</Button> : null}
      </Stack>
      {firings.error ? <ErrorAlert error={firings.error} /> : null}
      <TableContainer component={Paper} variant="outlined">
        {firings.isFetching ? <LinearProgress aria-label="Refreshing" /> : null}
        <Table size="small" aria-label="Firing history">
          <TableHead>
            <TableRow>
              <TableCell>Due</TableCell>
              <TableCell>Outcome</TableCell>
              <TableCell>Run</TableCell>
              <TableCell>Fired at</TableCell>
              <TableCell>Revision</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((firing) => (
              <TableRow key={firing.id}>
                <TableCell>
                  <div>{wall(firing.scheduled_for, schedule.timezone || "UTC")}</div>
                  <Typography variant="caption" color="text.secondary">
                    your time: <Time value={firing.scheduled_for} />
                  </Typography>
                </TableCell>
                <TableCell>
                  <FiringOutcome firing={firing} />
                </TableCell>
                <TableCell>
                  {firing.run_id ? (
                    <Stack direction="row" spacing={1} alignItems="center">
                      <Link to={`/runs/${firing.run_id}`} aria-label={`Run of ${formatWall(wallClock(firing.scheduled_for, schedule.timezone || "UTC"))}`}>
                        Open the run
                      </Link>
                      {firing.run_status ? <StatusChip state={firing.run_status} /> : null}
                    </Stack>
                  ) : (
                    "—"
                  )}
                </TableCell>
                <TableCell>
                  <Time value={firing.fired_at} />
                </TableCell>
                <TableCell>{firing.revision}</TableCell>
              </TableRow>
            ))}
            {!firings.isPending && rows.length === 0 && !firings.error ? (
              <TableRow>
                <TableCell colSpan={5}>
                  <Typography color="text.secondary" sx={{ py: 2 }}>
                    {filtered
                      ? "No firing matches these filters."
                      : schedule.enabled
                        ? "Nothing has fired yet: every due time will appear here, with its run or why it did not run."
                        : "Nothing has fired yet, and the schedule is paused: resume it to let it fire."}
                  </Typography>
                </TableCell>
              </TableRow>
            ) : null}
          </TableBody>
        </Table>
      </TableContainer>
      <TablePagination
        component="div"
        count={firings.data?.count ?? 0}
        page={page - 1}
        rowsPerPage={pageSize}
        rowsPerPageOptions={PAGE_SIZES}
        onPageChange={(_, next) => set({ page: String(next + 1) })}
        onRowsPerPageChange={(event) => set({ page_size: event.target.value })}
      />
    </Box>
  );
}
