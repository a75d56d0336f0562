// What the dashboard shows, from the summary endpoints of each app, and the link behind every
// number: the list it came from, filtered so that it shows the same rows.
import type { components } from "../../api/client";

export type RunStats = components["schemas"]["RunStats"];
export type HealthSummary = components["schemas"]["HealthSummary"];
export type ScheduleSummary = components["schemas"]["ScheduleSummary"];

/** Run outcomes in the order the chart stacks them (bottom first) and the legend lists them. */
export const OUTCOMES = ["succeeded", "failed", "timed_out", "canceled", "running", "pending"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const OUTCOME_LABELS: Record<Outcome, string> = {
  succeeded: "Succeeded",
  failed: "Failed",
  timed_out: "Timed out",
  canceled: "Canceled",
  running: "Running",
  pending: "Pending",
};

/** The runs list showing the runs behind a count: created since `since`, in these states. */
export function runsLink(statuses: readonly string[], since?: string): string {
  const params = new URLSearchParams();
  statuses.forEach((status) => params.append("status", status));
  if (since) params.set("created_after", since);
  return `/runs?${params.toString()}`;
}

/** The targets list filtered by any of these health statuses. */
export function targetsLink(health: readonly string[]): string {
  const params = new URLSearchParams();
  health.forEach((status) => params.append("health_status", status));
  return `/targets?${params.toString()}`;
}

export const PENDING_KEYS_LINK = "/targets?host_key_pending=true";
// the schedules list (its own page) filters by what the latest firing came to
export const SCHEDULES_FAILED_LINK = "/schedules?last_outcome=failed";
export const SCHEDULES_MISSED_LINK = "/schedules?last_outcome=missed";
// the alerts' delivery log, filtered by status
export const FAILED_DELIVERIES_LINK = "/alerts/deliveries?status=failed";

export interface HealthGroup {
  key: string;
  label: string;
  count: number;
  statuses: string[];
  /** whether a non-zero count needs someone's attention */
  attention: boolean;
}

/** Target health as the dashboard groups it: each group a count and the statuses behind it. */
export function healthGroups(summary: HealthSummary): HealthGroup[] {
  const by = summary.by_health;
  const sum = (statuses: string[]) => statuses.reduce((total, status) => total + (by[status] ?? 0), 0);
  const group = (key: string, label: string, statuses: string[], attention: boolean): HealthGroup => ({
    key,
    label,
    statuses,
    attention,
    count: sum(statuses),
  });
  return [
    group("healthy", "Healthy", ["healthy"], false),
    group("unreachable", "Unreachable", ["unreachable"], true),
    group("auth_failed", "Authentication failed", ["auth_failed"], true),
    group("host_key", "Host key changed or pending", ["host_key_mismatch", "host_key_unknown"], true),
    group("other", "Other problems", ["scope_refused", "error"], true),
    group("unknown", "Not checked yet", ["unknown"], false),
  ];
}

/** How far a run is: targets finished of all its targets (counts by target state). */
export function runProgress(run: { target_count: number; counts: unknown }): { done: number; total: number; percent: number } {
  const active = new Set(["pending", "queued", "running"]);
  const total = run.target_count;
  const counts = (run.counts ?? {}) as Record<string, number>;
  const done = Object.entries(counts).reduce((sum, [state, n]) => (active.has(state) ? sum : sum + n), 0);
  return { done, total, percent: total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0 };
}

/** The chart's bars: one per hour, the outcomes stacked, and the tallest bar (the scale). */
export function chartBars(stats: RunStats): { start: string; counts: Record<Outcome, number>; total: number }[] {
  return stats.buckets.map((bucket) => {
    const counts = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, bucket.counts[outcome] ?? 0])) as Record<Outcome, number>;
    return { start: bucket.start, counts, total: OUTCOMES.reduce((sum, outcome) => sum + counts[outcome], 0) };
  });
}

/** A round number of runs at or above `max` for the chart's scale: 1, 2, 5, 10, 20, 50... */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= max) return step * power;
  }
  return 10 * power;
}
