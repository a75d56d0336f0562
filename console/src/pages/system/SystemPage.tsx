// The System page: is everything OpsConductor needs up? Every dependency (databases per alias,
// broker, cache, the legacy backend), the workers and the queues they consume, the scheduler's
// lag and beat, the event outbox's backlog, and the metrics to watch. Every signed-in user may
// see it (it names no secret); refreshed every 15 s (the server caches it for a few seconds).
import {
  Alert,
  AlertTitle,
  Box,
  Chip,
  Link,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from "@mui/material";
import CheckCircle from "@mui/icons-material/CheckCircle";
import Error from "@mui/icons-material/Error";
import HelpOutline from "@mui/icons-material/HelpOutline";
import Warning from "@mui/icons-material/Warning";
import { useQuery } from "@tanstack/react-query";
import type { ReactElement, ReactNode } from "react";
import { api, unwrap, type components } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { Time } from "../../components/Time";
import { formatDuration } from "../../lib/format";

export type SystemStatus = components["schemas"]["SystemStatus"];
type State = "ok" | "degraded" | "down" | "unknown" | "unavailable";

export const SYSTEM_KEY = ["system", "status"] as const;
const REFRESH_MS = 15_000;

const STATES: Record<State, { label: string; icon: ReactElement; color: "success" | "warning" | "error" | "default" }> = {
  ok: { label: "Ready", icon: <CheckCircle />, color: "success" },
  degraded: { label: "Degraded", icon: <Warning />, color: "warning" },
  down: { label: "Down", icon: <Error />, color: "error" },
  unavailable: { label: "Unavailable", icon: <Error />, color: "error" },
  unknown: { label: "Unknown", icon: <HelpOutline />, color: "default" },
};

/** A state as an icon and its word (never colour alone). */
export function StateChip({ state }: { state: string }) {
  const known = STATES[state as State] ?? STATES.unknown;
  return <Chip icon={known.icon} label={known.label} color={known.color} size="small" variant="outlined" />;
}

const SUMMARY: Record<string, { severity: "success" | "warning" | "error"; text: string }> = {
  ok: { severity: "success", text: "Everything OpsConductor needs is up." },
  degraded: {
    severity: "warning",
    text: "OpsConductor works, but not everything is well: see what is marked below.",
  },
  unavailable: {
    severity: "error",
    text: "A dependency is down: OpsConductor cannot do all of its work until it is back.",
  },
};

const DEPENDENCY_LABELS: Record<string, string> = {
  broker: "Message broker",
  cache: "Cache",
  legacy_bridge: "Legacy backend",
};

export function dependencyLabel(name: string): string {
  if (name.startsWith("database:")) return `Database (${name.slice("database:".length)})`;
  return DEPENDENCY_LABELS[name] ?? name;
}

function Section({ title, children, id }: { title: string; children: ReactNode; id: string }) {
  return (
    <Paper variant="outlined" component="section" aria-labelledby={id} sx={{ p: 2 }}>
      <Typography id={id} variant="h6" component="h2" gutterBottom>
        {title}
      </Typography>
      {children}
    </Paper>
  );
}

function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return formatDuration(Math.round(value * 1000));
}

export function SystemView({ status }: { status: SystemStatus }) {
  const summary = SUMMARY[status.status] ?? SUMMARY.degraded;
  const scheduler = status.sections?.scheduler;
  const last = scheduler?.last_firing as
    | { schedule_name?: string; scheduled_for?: string; fired_at?: string; late_seconds?: number; outcome?: string }
    | null
    | undefined;
  const pending = status.outbox.pending.reduce((sum, row) => sum + row.pending, 0);
  return (
    <Stack spacing={2}>
      <Alert severity={summary.severity} role="status">
        <AlertTitle>{summary.text}</AlertTitle>
        Checked <Time value={status.checked_at} /> (in {status.took_ms} ms; answers are kept for {status.cached_for_seconds} s).
      </Alert>

      <Section title="Dependencies" id="system-dependencies">
        <TableContainer>
          <Table size="small" aria-label="Dependencies">
            <TableHead>
              <TableRow>
                <TableCell scope="col">Dependency</TableCell>
                <TableCell scope="col">State</TableCell>
                <TableCell scope="col">Detail</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {status.dependencies.map((dependency) => (
                <TableRow key={dependency.name} data-testid={`dependency-${dependency.name}`}>
                  <TableCell>{dependencyLabel(dependency.name)}</TableCell>
                  <TableCell>
                    <StateChip state={dependency.state} />
                  </TableCell>
                  <TableCell>{dependency.detail || "—"}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      </Section>

      <Section title="Workers and queues" id="system-workers">
        <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 1 }}>
          <StateChip state={status.workers.state} />
          <Typography variant="body2">
            {status.workers.workers.length
              ? `${status.workers.workers.length} worker(s) answered.`
              : "No worker answered."}{" "}
            {status.workers.detail}
          </Typography>
        </Stack>
        {status.workers.workers.length ? (
          <Table size="small" aria-label="Workers">
            <TableHead>
              <TableRow>
                <TableCell scope="col">Worker</TableCell>
                <TableCell scope="col">Queues it consumes</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {status.workers.workers.map((worker) => (
                <TableRow key={worker.name}>
                  <TableCell>
                    <code>{worker.name}</code>
                  </TableCell>
                  <TableCell>{worker.queues.join(", ")}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        ) : (
          <Typography variant="body2">
            Start workers (<code>deploy/entrypoint.sh worker</code>, docs/deploy.md): runs, schedules and alerts wait
            in their queues until one consumes them.
          </Typography>
        )}
        {status.queues.length ? (
          <Table size="small" aria-label="Queues" sx={{ mt: 2 }}>
            <TableHead>
              <TableRow>
                <TableCell scope="col">Queue</TableCell>
                <TableCell scope="col" align="right">
                  Messages waiting
                </TableCell>
                <TableCell scope="col" align="right">
                  Consumers
                </TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {status.queues.map((queue) => (
                <TableRow key={queue.name}>
                  <TableCell>{queue.name}</TableCell>
                  <TableCell align="right">{queue.messages ?? "—"}</TableCell>
                  <TableCell align="right">{queue.consumers ?? "—"}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        ) : null}
      </Section>

      <Section title="Scheduler" id="system-scheduler">
        {scheduler ? (
          <Stack spacing={0.5}>
            <Stack direction="row" spacing={1} alignItems="center">
              <StateChip state={scheduler.beat_alive === null ? "unknown" : scheduler.beat_alive ? "ok" : "down"} />
              <Typography variant="body2">
                {scheduler.beat_alive === null
                  ? "Beat's tick has not been seen (is beat running?)."
                  : scheduler.beat_alive
                    ? "Beat ticks"
                    : "Beat's tick stopped"}
                {scheduler.last_tick_at ? (
                  <>
                    {" "}
                    (last tick <Time value={scheduler.last_tick_at} />)
                  </>
                ) : null}
                .
              </Typography>
            </Stack>
            <Typography variant="body2">
              {scheduler.enabled_schedules} schedule(s) enabled. Most overdue due time:{" "}
              {scheduler.overdue_seconds > 0 ? `waiting for ${seconds(scheduler.overdue_seconds)}` : "none"}.
            </Typography>
            <Typography variant="body2">
              Last firing:{" "}
              {last ? (
                <>
                  {last.schedule_name}, due <Time value={last.scheduled_for} />, fired {seconds(last.late_seconds)} late.
                </>
              ) : (
                "none yet."
              )}
            </Typography>
          </Stack>
        ) : (
          <Typography variant="body2">The scheduler reports nothing here.</Typography>
        )}
      </Section>

      <Section title="Event outbox" id="system-outbox">
        <Typography variant="body2" sx={{ mb: 1 }}>
          {pending
            ? `${pending} event(s) written and not yet relayed to the broker.`
            : "Every event has been relayed to the broker."}
        </Typography>
        {status.outbox.pending.length ? (
          <Table size="small" aria-label="Events not relayed yet">
            <TableHead>
              <TableRow>
                <TableCell scope="col">App</TableCell>
                <TableCell scope="col" align="right">
                  Not relayed
                </TableCell>
                <TableCell scope="col">Oldest</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {status.outbox.pending.map((row) => (
                <TableRow key={row.app}>
                  <TableCell>{row.app}</TableCell>
                  <TableCell align="right">{row.pending}</TableCell>
                  <TableCell>
                    <Time value={row.oldest_pending_at} />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        ) : null}
        {status.outbox.failed_deliveries.length ? (
          <Alert severity="warning" sx={{ mt: 1 }}>
            Events a subscriber gave up on:{" "}
            {status.outbox.failed_deliveries.map((row) => `${row.app} (${row.count})`).join(", ")}. Replay them with{" "}
            <code>manage.py replay_failed_events</code> once the cause is fixed.
          </Alert>
        ) : null}
      </Section>

      <Section title="Metrics to watch" id="system-metrics">
        <Typography variant="body2" sx={{ mb: 1 }}>
          Scraped from{" "}
          <Link href={status.metrics_path} target="_blank" rel="noreferrer">
            {status.metrics_path}
          </Link>{" "}
          (a token or an allowed network, docs/operations.md).
        </Typography>
        <Box component="ul" sx={{ m: 0, pl: 3 }}>
          {status.metrics.map((metric) => (
            <li key={metric.name}>
              <Typography variant="body2" component="span">
                <code>{metric.name}</code>: {metric.help}
              </Typography>
            </li>
          ))}
        </Box>
      </Section>
    </Stack>
  );
}

export default function SystemPage() {
  const status = useQuery({
    queryKey: SYSTEM_KEY,
    queryFn: () => unwrap(api.GET("/api/v1/system/status/")) as Promise<SystemStatus>,
    refetchInterval: REFRESH_MS,
    retry: false,
  });
  return (
    <Stack spacing={2}>
      <PageHeader title="System" subtitle="Dependencies, workers, queues, the scheduler and the event outbox, now." />
      {status.error ? <ErrorAlert error={status.error} /> : null}
      {status.isPending ? <PageLoading label="Checking the system" /> : status.data ? <SystemView status={status.data} /> : null}
    </Stack>
  );
}
