import { act, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderWith } from "../../test/render";

// the API client keeps the fetch (and Request) it was made with: replace them before the
// client is imported; requests to the page's own origin, as in a browser
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn();
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, "http://localhost/") : input, init);
    }
  } as typeof Request;
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});

import DashboardPage, { POLL_MS } from "./DashboardPage";

const SINCE = "2026-12-06T12:00:00Z";
const zero = { pending: 0, running: 0, succeeded: 0, failed: 0, canceled: 0, timed_out: 0 };

function stats(failed: number) {
  return {
    since: SINCE,
    until: "2026-12-07T12:00:00Z",
    total: 5 + failed,
    totals: { ...zero, succeeded: 4, failed, running: 1 },
    buckets: Array.from({ length: 24 }, (_, hour) => ({
      start: new Date(Date.parse(SINCE) + hour * 3_600_000).toISOString(),
      counts: hour === 23 ? { ...zero, succeeded: 4, failed, running: 1 } : zero,
    })),
    active: { pending: 2, running: 1 },
  };
}

const ANSWERS: Record<string, () => unknown> = {
  "/api/v1/runs/": () => ({
    count: 1,
    results: [{ id: "run-1", job_name: "deploy", job_version: 3, status: "running", target_count: 4, counts: { succeeded: 1, failed: 1, running: 2 }, created_at: SINCE, started_at: SINCE }],
  }),
  "/api/v1/targets/health-summary/": () => ({
    total: 6,
    by_health: { healthy: 3, unreachable: 1, auth_failed: 0, host_key_unknown: 1, host_key_mismatch: 1, scope_refused: 0, error: 0, unknown: 0 },
    pending_host_keys: 2,
    targets_with_pending_host_keys: 2,
  }),
  "/api/v1/schedules/summary/": () => ({
    total: 3,
    enabled: 2,
    paused: 1,
    last_failed: 1,
    last_missed: 0,
    failed_deliveries: 4,
    next_firings: [{ id: "s-1", name: "nightly", job_id: "j", job_name: "backup", next_fire_at: "2026-12-08T01:00:00Z", timezone: "Europe/Berlin" }],
  }),
};

let failedRuns = 2;

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true });
  failedRuns = 2;
  fetchMock.mockReset();
  fetchMock.mockImplementation(async (request: Request) => {
    const path = new URL(request.url).pathname;
    const body = path === "/api/v1/runs/stats/" ? stats(failedRuns) : ANSWERS[path]?.();
    if (!body) return new Response(JSON.stringify({ error: { code: "not_found", message: "Not found." } }), { status: 404 });
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("the dashboard", () => {
  it("charts the runs of the day and links every count to the list behind it", async () => {
    renderWith(<DashboardPage />, { role: "viewer", path: "/dashboard" });

    const chart = await screen.findByRole("img", { name: /7 runs started in the last 24 hours: 4 succeeded, 2 failed, 1 running/ });
    expect(chart.querySelectorAll("[data-testid=chart-bar]")).toHaveLength(24);
    expect(chart.querySelectorAll("[data-outcome=failed]")).toHaveLength(1);

    const legend = screen.getByRole("list", { name: "Runs by outcome" });
    const failed = within(legend).getByRole("link", { name: /2 failed/ });
    expect(failed.getAttribute("href")).toBe(`/runs?status=failed&created_after=${encodeURIComponent(SINCE)}`);

    expect(screen.getByRole("link", { name: "1 running now" }).getAttribute("href")).toBe("/runs?status=running");
    expect(screen.getByRole("link", { name: "2 waiting to start" }).getAttribute("href")).toBe("/runs?status=pending");
    expect(await screen.findByRole("progressbar", { name: "deploy: 2 of 4 targets done" })).toBeTruthy();

    const health = await screen.findByRole("list", { name: "Targets by health" });
    expect(within(health).getByRole("link", { name: "3 healthy" }).getAttribute("href")).toBe("/targets?health_status=healthy");
    expect(within(health).getByRole("link", { name: "2 host key changed or pending" }).getAttribute("href")).toBe(
      "/targets?health_status=host_key_mismatch&health_status=host_key_unknown",
    );

    const action = screen.getByRole("list", { name: "Needs action" });
    expect(within(action).getByRole("link", { name: "1 schedules whose last firing failed" }).getAttribute("href")).toBe("/schedules?last_outcome=failed");
    expect(within(action).getByRole("link", { name: "2 host keys waiting for approval" }).getAttribute("href")).toBe("/targets?host_key_pending=true");
    expect(within(action).getByRole("link", { name: "4 failed notification deliveries" }).getAttribute("href")).toBe("/alerts/deliveries?status=failed");

    const next = screen.getByRole("list", { name: "Next firings" });
    expect(within(next).getByRole("link", { name: "nightly" }).getAttribute("href")).toBe("/schedules/s-1");
    expect(within(next).getByText(/Europe\/Berlin/)).toBeTruthy();
  });

  it("updates by itself every 10 seconds", async () => {
    renderWith(<DashboardPage />, { role: "viewer", path: "/dashboard" });
    await screen.findByRole("link", { name: /2 failed/ });
    failedRuns = 7;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(POLL_MS + 100);
    });
    expect(await screen.findByRole("link", { name: /7 failed/ })).toBeTruthy();
  });

  it("says what to do next when there is nothing yet", async () => {
    fetchMock.mockImplementation(async (request: Request) => {
      const path = new URL(request.url).pathname;
      const empty: Record<string, unknown> = {
        "/api/v1/runs/stats/": { ...stats(0), total: 0, totals: zero, buckets: stats(0).buckets.map((b) => ({ ...b, counts: zero })), active: { pending: 0, running: 0 } },
        "/api/v1/runs/": { count: 0, results: [] },
        "/api/v1/targets/health-summary/": { total: 0, by_health: {}, pending_host_keys: 0, targets_with_pending_host_keys: 0 },
        "/api/v1/schedules/summary/": { total: 0, enabled: 0, paused: 0, last_failed: 0, last_missed: 0, failed_deliveries: 0, next_firings: [] },
      };
      return new Response(JSON.stringify(empty[path]), { status: 200, headers: { "Content-Type": "application/json" } });
    });
    renderWith(<DashboardPage />, { role: "viewer", path: "/dashboard" });
    expect(await screen.findByRole("img", { name: /No runs were started in the last 24 hours/ })).toBeTruthy();
    expect(await screen.findByText(/Nothing is running now/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "register the machines jobs run on" }).getAttribute("href")).toBe("/targets/new");
    expect(screen.getByRole("link", { name: "schedule a job" }).getAttribute("href")).toBe("/schedules");
  });

  it("shows a refused summary as the server's message, the rest still shown", async () => {
    const base = fetchMock.getMockImplementation()!;
    fetchMock.mockImplementation(async (request: Request) => {
      if (new URL(request.url).pathname === "/api/v1/schedules/summary/") {
        return new Response(JSON.stringify({ error: { code: "permission_denied", message: "You may not read schedules." } }), {
          status: 403,
          headers: { "Content-Type": "application/json" },
        });
      }
      return base(request);
    });
    renderWith(<DashboardPage />, { role: "viewer", path: "/dashboard" });
    expect((await screen.findAllByText("You may not read schedules."))[0]).toBeTruthy();
    expect(await screen.findByRole("link", { name: "3 healthy" })).toBeTruthy();
  });
});
