import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer } from "../../test/answers";
import { renderWith } from "../../test/render";
import DeliveriesPage, { answerOf } from "./DeliveriesPage";

afterEach(() => vi.restoreAllMocks());

const delivery = {
  id: "d1",
  channel: "c1",
  channel_name: "ops-hook",
  event: "failed",
  subject: "job:j1",
  payload: { event: "failed", job_name: "backup", status: "failed" },
  status: "delivered",
  attempts: 2,
  last_error: "",
  response_status: 200,
  response_excerpt: '{"ok":true}',
  attempt_log: [
    { number: 1, at: "2026-06-01T12:00:00Z", outcome: "failed", response_status: 503, detail: "POST to hooks:443: HTTP 503: busy" },
    { number: 2, at: "2026-06-01T12:00:30Z", outcome: "delivered", response_status: 200, detail: '{"ok":true}' },
  ],
  delivered_at: "2026-06-01T12:00:30Z",
  next_attempt_at: null,
  created_at: "2026-06-01T12:00:00Z",
  updated_at: "2026-06-01T12:00:30Z",
};

describe("the delivery log", () => {
  it("tells the last answer: the status and excerpt, or the error", () => {
    expect(answerOf({ status: "delivered", response_status: 200, response_excerpt: "ok", last_error: "" })).toBe("HTTP 200: ok");
    expect(answerOf({ status: "failed", response_status: 500, response_excerpt: "x", last_error: "POST to h: HTTP 500: x" })).toBe(
      "POST to h: HTTP 500: x",
    );
    expect(answerOf({ status: "delivered", response_status: null, response_excerpt: "", last_error: "" })).toBe("Sent");
  });

  it("filters by the URL's channel and outcome, and opens a delivery's attempts", async () => {
    const get = vi.spyOn(api, "GET").mockImplementation(((path: string) =>
      path === "/api/v1/notification-deliveries/"
        ? answer(200, { count: 1, results: [delivery] })
        : answer(200, { count: 1, results: [{ id: "c1", name: "ops-hook" }] })) as never);
    renderWith(<DeliveriesPage />, { role: "viewer", path: "/alerts/deliveries?channel=ops-hook&status=delivered" });

    const table = await screen.findByRole("table", { name: "Deliveries" });
    const calls = get.mock.calls as unknown as [string, unknown][];
    const call = calls.find(([path]) => path === "/api/v1/notification-deliveries/") as unknown as [
      string,
      { params: { query: Record<string, unknown> } },
    ];
    expect(call[1].params.query).toMatchObject({ channel: "ops-hook", status: ["delivered"], page: 1 });
    expect(within(table).getByText("backup")).toBeInTheDocument();
    expect(within(table).getByText('HTTP 200: {"ok":true}')).toBeInTheDocument();
    fireEvent.click(within(table).getByRole("button", { name: "Attempts of the Failed notice to ops-hook" }));
    const attempts = await screen.findByRole("table", { name: "Attempts of delivery d1" });
    await waitFor(() => expect(within(attempts).getAllByRole("row")).toHaveLength(3));
    expect(within(attempts).getByText("HTTP 503")).toBeInTheDocument();
    expect(within(attempts).getByText("POST to hooks:443: HTTP 503: busy")).toBeInTheDocument();
  }, 60_000);
});
