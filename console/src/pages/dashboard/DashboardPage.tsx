// The console's home: what happened in the last 24 hours, what is going on now, what fires
// next, and what needs someone. Each app answers for its own data through a small summary
// endpoint (runs/stats, targets/health-summary, schedules/summary), so the page stays quick
// with 10,000 targets and schedules; every number links to the list behind it, filtered.
// The numbers refresh every 10 seconds while the tab is visible.
import { Box, LinearProgress, Link, Paper, Stack, Typography, type SxProps } from "@mui/material";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link as RouterLink } from "react-router";
import { api, unwrap, type components } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { StatusChip } from "../../components/StatusChip";
import { Time } from "../../components/Time";
import { RunsChart } from "./RunsChart";
import {
  FAILED_DELIVERIES_LINK,
  healthGroups,
  PENDING_KEYS_LINK,
  runProgress,
  runsLink,
  SCHEDULES_FAILED_LINK,
  SCHEDULES_MISSED_LINK,
  targetsLink,
  type HealthSummary,
  type RunStats,
  type ScheduleSummary,
} from "./summary";

export const POLL_MS = 10_000;
const ACTIVE_SHOWN = 5;

type Run = components["schemas"]["Run"];
interface Paged<T> {
  count: number;
  results: T[];
}

function Card({ id, title, action, children, sx }: { id: string; title: string; action?: ReactNode; children: ReactNode; sx?: SxProps }) {
  return (
    <Paper variant="outlined" component="section" aria-labelledby={id} sx={{ p: 2, display: "flex", flexDirection: "column", gap: 1.5, ...sx }}>
      <Stack direction="row" alignItems="baseline" spacing={1}>
        <Typography id={id} variant="h6" component="h2" sx={{ flexGrow: 1, fontSize: "1.05rem" }}>
          {title}
        </Typography>
        {action}
      </Stack>
      {children}
    </Paper>
  );
}

/** A count that links to the list behind it; `attention` marks a count someone should act on. */
export function Figure({ to, count, label, attention = false }: { to: string; count: number; label: string; attention?: boolean }) {
  const alarming = attention && count > 0;
  return (
    <Link
      component={RouterLink}
      to={to}
      underline="hover"
      color={alarming ? "error" : "inherit"}
      sx={{ display: "flex", alignItems: "baseline", gap: 1, py: 0.25 }}
      aria-label={`${count.toLocaleString()} ${label}`}
    >
      <Typography component="span" sx={{ fontSize: "1.5rem", fontWeight: 600, minWidth: "2.5ch", textAlign: "right", fontVariantNumeric: "tabular-nums" }}>
        {count.toLocaleString()}
      </Typography>
      <Typography component="span" variant="body2">
        {label}
      </Typography>
    </Link>
  );
}

function Loading<T>({ query, label, children }: { query: { data?: T; error: unknown; isPending: boolean }; label: string; children: (data: T) => ReactNode }) {
  if (query.data !== undefined) return <>{children(query.data)}</>;
  if (query.error) return <ErrorAlert error={query.error} />;
  return <PageLoading label={label} />;
}

function ActiveRuns({ runs, stats }: { runs: Paged<Run>; stats?: RunStats }) {
  const running = stats?.active.running;
  const pending = stats?.active.pending;
  return (
    <>
      {stats ? (
        <Stack direction="row" spacing={3}>
          <Figure to={runsLink(["running"])} count={running ?? 0} label="running now" />
          <Figure to={runsLink(["pending"])} count={pending ?? 0} label="waiting to start" />
        </Stack>
      ) : null}
      {runs.results.length === 0 ? (
        <Typography color="text.secondary" variant="body2">
          Nothing is running now. Launch a job from{" "}
          <Link component={RouterLink} to="/jobs">
            Jobs
          </Link>
          .
        </Typography>
      ) : (
        <Stack component="ul" spacing={1.5} sx={{ listStyle: "none", p: 0, m: 0 }} aria-label="Runs going on now">
          {runs.results.map((run) => {
            const progress = runProgress(run);
            return (
              <Box component="li" key={run.id}>
                <Stack direction="row" spacing={1} alignItems="center">
                  <Link component={RouterLink} to={`/runs/${run.id}`} sx={{ flexGrow: 1, minWidth: 0 }} noWrap>
                    {run.job_name} v{run.job_version}
                  </Link>
                  <StatusChip state={run.status} />
                </Stack>
                <Stack direction="row" spacing={1} alignItems="center" sx={{ mt: 0.5 }}>
                  <LinearProgress
                    variant="determinate"
                    value={progress.percent}
                    sx={{ flexGrow: 1, height: 6, borderRadius: 3 }}
                    aria-label={`${run.job_name}: ${progress.done} of ${progress.total} targets done`}
                  />
                  <Typography variant="caption" color="text.secondary" sx={{ whiteSpace: "nowrap" }}>
                    {progress.done} / {progress.total} targets
                  </Typography>
                </Stack>
                <Typography variant="caption" color="text.secondary">
                  {run.started_at ? "started" : "waiting since"} <Time value={run.started_at ?? run.created_at} />
                </Typography>
              </Box>
            );
          })}
          {runs.count > runs.results.length ? (
            <Link component={RouterLink} to={runsLink(["running", "pending"])} variant="body2">
              All {runs.count.toLocaleString()} runs going on
            </Link>
          ) : null}
        </Stack>
      )}
    </>
  );
}

function NextFirings({ summary }: { summary: ScheduleSummary }) {
  if (summary.next_firings.length === 0) {
    return (
      <Typography color="text.secondary" variant="body2">
        {summary.total === 0 ? "No schedules yet: " : "No enabled schedule is due: "}
        <Link component={RouterLink} to="/schedules">
          {summary.total === 0 ? "schedule a job" : "see the schedules"}
        </Link>
        .
      </Typography>
    );
  }
  return (
    <Stack component="ul" spacing={1} sx={{ listStyle: "none", p: 0, m: 0 }} aria-label="Next firings">
      {summary.next_firings.map((firing) => (
        <Box component="li" key={firing.id}>
          <Link component={RouterLink} to={`/schedules/${firing.id}`}>
            {firing.name}
          </Link>{" "}
          <Typography component="span" variant="body2" color="text.secondary">
            runs {firing.job_name}
          </Typography>
          <Typography variant="body2">
            <Time value={firing.next_fire_at} />{" "}
            <Typography component="span" variant="caption" color="text.secondary">
              (schedule's zone: {firing.timezone})
            </Typography>
          </Typography>
        </Box>
      ))}
    </Stack>
  );
}

function TargetHealth({ summary }: { summary: HealthSummary }) {
  if (summary.total === 0) {
    return (
      <Typography color="text.secondary" variant="body2">
        No targets yet:{" "}
        <Link component={RouterLink} to="/targets/new">
          register the machines jobs run on
        </Link>
        .
      </Typography>
    );
  }
  return (
    <Box component="ul" sx={{ listStyle: "none", p: 0, m: 0 }} aria-label="Targets by health">
      {healthGroups(summary)
        .filter((group) => group.count > 0 || group.attention)
        .map((group) => (
          <li key={group.key}>
            <Figure to={targetsLink(group.statuses)} count={group.count} label={group.label.toLowerCase()} attention={group.attention} />
          </li>
        ))}
    </Box>
  );
}

export default function DashboardPage() {
  const stats = useQuery({
    queryKey: ["dashboard", "runs-stats"],
    queryFn: () => unwrap(api.GET("/api/v1/runs/stats/")),
    refetchInterval: POLL_MS,
  });
  const active = useQuery({
    queryKey: ["dashboard", "active-runs"],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/runs/", {
          params: { query: { status: ["running", "pending"], ordering: "-created_at", page_size: ACTIVE_SHOWN } },
        }),
      ) as Promise<Paged<Run>>,
    refetchInterval: POLL_MS,
  });
  const health = useQuery({
    queryKey: ["dashboard", "health"],
    queryFn: () => unwrap(api.GET("/api/v1/targets/health-summary/")),
    refetchInterval: POLL_MS,
  });
  const schedules = useQuery({
    queryKey: ["dashboard", "schedules"],
    queryFn: () => unwrap(api.GET("/api/v1/schedules/summary/")),
    refetchInterval: POLL_MS,
  });

  return (
    <Box>
      <PageHeader title="Dashboard" subtitle="The last 24 hours and what needs attention; updates every 10 seconds." />
      <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: { xs: "1fr", md: "repeat(2, minmax(0, 1fr))", xl: "repeat(3, minmax(0, 1fr))" } }}>
        <Card
          id="dash-runs"
          title="Runs, last 24 hours"
          sx={{ gridColumn: { md: "1 / -1", xl: "span 2" } }}
          action={
            <Link component={RouterLink} to="/runs" variant="body2">
              All runs
            </Link>
          }
        >
          <Loading query={stats} label="Loading the runs of the last 24 hours">
            {(data) => <RunsChart stats={data} />}
          </Loading>
        </Card>
        <Card id="dash-active" title="Going on now">
          <Loading query={active} label="Loading the runs going on">
            {(data) => <ActiveRuns runs={data} stats={stats.data} />}
          </Loading>
        </Card>
        <Card id="dash-health" title="Target health">
          <Loading query={health} label="Loading target health">
            {(data) => <TargetHealth summary={data} />}
          </Loading>
        </Card>
        <Card id="dash-attention" title="Needs action">
          <Loading query={schedules} label="Loading schedules">
            {(data) => (
              <Box component="ul" sx={{ listStyle: "none", p: 0, m: 0 }} aria-label="Needs action">
                <li>
                  <Figure to={SCHEDULES_FAILED_LINK} count={data.last_failed} label="schedules whose last firing failed" attention />
                </li>
                <li>
                  <Figure to={SCHEDULES_MISSED_LINK} count={data.last_missed} label="schedules whose last firing was missed" attention />
                </li>
                {health.data ? (
                  <li>
                    <Figure to={PENDING_KEYS_LINK} count={health.data.pending_host_keys} label="host keys waiting for approval" attention />
                  </li>
                ) : null}
                <li>
                  <Figure to={FAILED_DELIVERIES_LINK} count={data.failed_deliveries} label="failed notification deliveries" attention />
                </li>
              </Box>
            )}
          </Loading>
        </Card>
        <Card
          id="dash-next"
          title="Next firings"
          action={
            schedules.data ? (
              <Typography variant="body2" color="text.secondary">
                {schedules.data.enabled} enabled, {schedules.data.paused} paused
              </Typography>
            ) : null
          }
        >
          <Loading query={schedules} label="Loading the next firings">
            {(data) => <NextFirings summary={data} />}
          </Loading>
        </Card>
      </Box>
    </Box>
  );
}
