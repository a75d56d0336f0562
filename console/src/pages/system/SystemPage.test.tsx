import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWith } from "../../test/render";
import { dependencyLabel, SystemView, type SystemStatus } from "./SystemPage";

function status(overrides: Partial<SystemStatus> = {}): SystemStatus {
  return {
    status: "ok",
    checked_at: "2026-06-01T12:00:00Z",
    cached_for_seconds: 5,
    took_ms: 120,
    dependencies: [
      { name: "database:default", kind: "database", state: "ok", detail: "" },
      { name: "database:audit", kind: "database", state: "ok", detail: "" },
      { name: "broker", kind: "broker", state: "ok", detail: "" },
      { name: "cache", kind: "cache", state: "ok", detail: "" },
      { name: "legacy_bridge", kind: "service", state: "ok", detail: "" },
    ],
    workers: { state: "ok", detail: "", workers: [{ name: "celery@host-1", queues: ["execution", "kernel", "scheduling"] }] },
    queues: [{ name: "execution", messages: 3, consumers: 1 }],
    outbox: { pending: [], failed_deliveries: [] },
    sections: {
      scheduler: {
        enabled_schedules: 4,
        overdue_seconds: 0,
        last_firing: { schedule_name: "nightly", scheduled_for: "2026-06-01T02:00:00Z", fired_at: "2026-06-01T02:00:01Z", late_seconds: 0.4 },
        last_tick_at: "2026-06-01T11:59:59Z",
        beat_alive: true,
        tick_seconds: 1,
      },
    },
    metrics: [{ name: "opsconductor_scheduler_lag_seconds", help: "How long the most overdue due time has waited." }],
    metrics_path: "/metrics",
    ...overrides,
  } as SystemStatus;
}

describe("the system page", () => {
  it("says everything is up, lists the workers with their queues and the scheduler's lag", () => {
    renderWith(<SystemView status={status()} />, { role: "viewer" });
    expect(screen.getByText("Everything OpsConductor needs is up.")).toBeInTheDocument();
    const dependencies = screen.getByRole("table", { name: "Dependencies" });
    expect(within(dependencies).getAllByText("Ready")).toHaveLength(5);
    expect(within(dependencies).getByText("Database (audit)")).toBeInTheDocument();
    expect(within(dependencies).getByText("Legacy backend")).toBeInTheDocument();
    const workers = screen.getByRole("table", { name: "Workers" });
    expect(within(workers).getByText("celery@host-1")).toBeInTheDocument();
    expect(within(workers).getByText("execution, kernel, scheduling")).toBeInTheDocument();
    expect(screen.getByText(/Beat ticks/)).toBeInTheDocument();
    expect(screen.getByText(/fired 400 ms late/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "/metrics" })).toHaveAttribute("href", "/metrics");
  });

  it("marks a broker that is down, says why, and says what to do without workers", () => {
    renderWith(
      <SystemView
        status={status({
          status: "unavailable",
          dependencies: [
            { name: "database:default", kind: "database", state: "ok", detail: "" },
            { name: "broker", kind: "broker", state: "down", detail: "unreachable (OperationalError)" },
          ],
          workers: { state: "unknown", detail: "the broker is down", workers: [] },
          queues: [],
          outbox: {
            pending: [{ app: "execution", pending: 12, oldest_pending_at: "2026-06-01T11:50:00Z" }],
            failed_deliveries: [{ app: "audit", count: 2 }],
          },
        })}
      />,
      { role: "viewer" },
    );
    expect(screen.getByText(/A dependency is down/)).toBeInTheDocument();
    const broker = screen.getByTestId("dependency-broker");
    expect(within(broker).getByText("Down")).toBeInTheDocument();
    expect(within(broker).getByText("unreachable (OperationalError)")).toBeInTheDocument();
    expect(screen.getByText(/No worker answered/)).toBeInTheDocument();
    expect(screen.queryByRole("table", { name: "Queues" })).not.toBeInTheDocument();
    expect(screen.getByText("12 event(s) written and not yet relayed to the broker.")).toBeInTheDocument();
    expect(screen.getByText(/audit \(2\)/)).toBeInTheDocument();
  });

  it("names dependencies for people", () => {
    expect(dependencyLabel("database:execution")).toBe("Database (execution)");
    expect(dependencyLabel("broker")).toBe("Message broker");
    expect(dependencyLabel("something_else")).toBe("something_else");
  });
});
