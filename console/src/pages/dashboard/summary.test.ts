import { describe, expect, it } from "vitest";
import { chartBars, healthGroups, niceMax, runProgress, runsLink, targetsLink, type HealthSummary, type RunStats } from "./summary";

describe("the dashboard's links", () => {
  it("filter the runs list by state and window as the counts were made", () => {
    expect(runsLink(["failed"], "2026-12-07T10:00:00Z")).toBe("/runs?status=failed&created_after=2026-12-07T10%3A00%3A00Z");
    expect(runsLink(["running", "pending"])).toBe("/runs?status=running&status=pending");
  });

  it("filter the targets list by every health status of a group", () => {
    expect(targetsLink(["host_key_mismatch", "host_key_unknown"])).toBe("/targets?health_status=host_key_mismatch&health_status=host_key_unknown");
  });
});

describe("target health groups", () => {
  const summary = {
    total: 10,
    by_health: { healthy: 4, unreachable: 1, auth_failed: 2, host_key_unknown: 1, host_key_mismatch: 1, scope_refused: 0, error: 1, unknown: 0 },
    pending_host_keys: 3,
    targets_with_pending_host_keys: 2,
  } as HealthSummary;

  it("sum the statuses behind each group and flag the ones that need attention", () => {
    const groups = Object.fromEntries(healthGroups(summary).map((group) => [group.key, group]));
    expect(groups.healthy.count).toBe(4);
    expect(groups.host_key.count).toBe(2);
    expect(groups.host_key.statuses).toEqual(["host_key_mismatch", "host_key_unknown"]);
    expect(groups.other.count).toBe(1);
    expect(groups.unreachable.attention).toBe(true);
    expect(groups.healthy.attention).toBe(false);
    // every target is in exactly one group
    expect(healthGroups(summary).reduce((sum, group) => sum + group.count, 0)).toBe(summary.total);
  });
});

describe("a run's progress", () => {
  it("counts the targets that finished, whatever their outcome", () => {
    expect(runProgress({ target_count: 10, counts: { succeeded: 3, failed: 1, running: 2, queued: 4 } })).toEqual({ done: 4, total: 10, percent: 40 });
    expect(runProgress({ target_count: 0, counts: {} })).toEqual({ done: 0, total: 0, percent: 0 });
  });
});

describe("the chart's bars and scale", () => {
  it("stack every outcome per hour and round the scale up", () => {
    const stats = {
      buckets: [
        { start: "2026-12-07T10:00:00Z", counts: { succeeded: 3, failed: 1, pending: 0, running: 0, canceled: 0, timed_out: 0 } },
        { start: "2026-12-07T11:00:00Z", counts: { succeeded: 0, failed: 0, pending: 0, running: 1, canceled: 0, timed_out: 2 } },
      ],
    } as unknown as RunStats;
    const bars = chartBars(stats);
    expect(bars.map((bar) => bar.total)).toEqual([4, 3]);
    expect(bars[1].counts.timed_out).toBe(2);
    expect([0, 1, 3, 7, 10, 11, 180, 2000].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 200, 2000]);
  });
});
