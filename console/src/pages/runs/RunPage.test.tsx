import { screen, waitFor, within } from "@testing-library/react";
import { act } from "react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer } from "../../test/answers";
import { renderWith } from "../../test/render";
import RunPage from "./RunPage";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const RUN = {
  id: "run-1", job: "job-1", job_name: "deploy", job_version: 3, trigger: "manual", status: "running",
  status_reason: "", pending_reason: "", selector: "", target_count: 2, counts: { running: 2 },
  summary: { counts: { running: 2 }, groups: [], more_groups: 0 }, created_at: "2026-12-07T10:00:00Z",
  started_at: "2026-12-07T10:00:00Z", finished_at: null, duration_ms: null, retry_of: null,
  cancel_requested_at: null, imported: false,
};

function row(id: string, name: string, status = "running", exit_code: number | null = null) {
  return { id, target_id: `t-${id}`, target_name: name, status, exit_code, reason: "",
    pending_reason: "", duration_ms: null, steps: [] };
}

/** A stand-in for the browser's EventSource: the test sends the stream's events. */
class FakeSource {
  static last: FakeSource | null = null;
  static CLOSED = 2;
  readyState = 1;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  private listeners = new Map<string, (message: MessageEvent<string>) => void>();
  constructor(public url: string) {
    FakeSource.last = this;
  }
  addEventListener(type: string, listener: (message: MessageEvent<string>) => void) {
    this.listeners.set(type, listener);
  }
  close() {
    this.readyState = 2;
  }
  send(type: string, id: number, data: unknown) {
    this.listeners.get(type)?.(new MessageEvent(type, { data: JSON.stringify(data), lastEventId: String(id) }));
  }
}

describe("the run page's grid", () => {
  it("shows a target's new state from the stream on its row, the other rows unchanged", async () => {
    vi.stubGlobal("EventSource", FakeSource);
    // what the server answers once the target has failed too (the page refreshes after a change)
    let failedOnServer = false;
    vi.spyOn(api, "GET").mockImplementation(((path: string) =>
      path === "/api/v1/runs/{id}/targets/"
        ? answer(200, { count: 2, next: null, previous: null, results: [row("a", "web-01"), failedOnServer ? row("b", "web-02", "failed", 2) : row("b", "web-02")] })
        : answer(200, RUN)) as never);
    renderWith(
      <Routes>
        <Route path="/runs/:id" element={<RunPage />} />
      </Routes>,
      { path: "/runs/run-1" },
    );
    const table = await screen.findByRole("table", { name: "Targets of this run" });
    await within(table).findByText("web-02");
    await waitFor(() => expect(FakeSource.last).not.toBeNull());
    failedOnServer = true;
    act(() => FakeSource.last!.send("state", 1, { type: "target", run_target_id: "b", status: "failed", exit_code: 2 }));
    const failed = await within(table).findByText("web-02");
    const cells = within(failed.closest("tr")!);
    await waitFor(() => expect(cells.getByText("Failed")).toBeInTheDocument());
    expect(cells.getByText("2")).toBeInTheDocument();
    expect(within(within(table).getByText("web-01").closest("tr")!).getByText("Running")).toBeInTheDocument();
  });
});
