import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes, useLocation } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer } from "../../test/answers";
import { renderWith } from "../../test/render";
import AuditPage from "./AuditPage";

afterEach(() => vi.restoreAllMocks());

function record(sequence: number, action = "targets.target.updated") {
  return {
    id: `00000000-0000-0000-0000-${String(sequence).padStart(12, "0")}`,
    sequence,
    action,
    occurred_at: "2026-12-07T10:00:00Z",
    recorded_at: "2026-12-07T10:00:00Z",
    actor: { kind: "user", id: "7", name: "alice" },
    source_ip: "10.0.0.7",
    user_agent: "curl/8",
    request_id: "req-1",
    object: { type: "target", id: "t-1", name: "web-1" },
    outcome: "success",
    details: {},
    changes: {},
    prev_hash: "0".repeat(64),
    hash: "1".repeat(64),
  };
}

const VERIFIED = { last: null, pending: null, interval_seconds: 86400 };

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.search}</output>;
}

type Query = Record<string, string | number | undefined>;

/** The API as the page sees it: `list(query)` answers pages, `newest(query)` the probe. */
function stubApi({ list, newest }: { list: (query: Query) => unknown; newest?: (query: Query) => unknown }) {
  const calls: Query[] = [];
  vi.spyOn(api, "GET").mockImplementation(((path: string, init?: { params?: { query?: Query } }) => {
    if (path === "/api/v1/audit/verification/") return answer(200, VERIFIED);
    const query = init?.params?.query ?? {};
    calls.push(query);
    if (query.page_size === 1) {
      // the probe answers after the page (as it does over a network)
      return new Promise((resolve) => setTimeout(() => resolve(answer(200, newest ? newest(query) : list(query))), 30));
    }
    return answer(200, list(query));
  }) as never);
  return calls;
}

function page(path = "/audit", role: "admin" | "viewer" = "admin") {
  return renderWith(
    <Routes>
      <Route
        path="/audit"
        element={
          <>
            <AuditPage />
            <Where />
          </>
        }
      />
    </Routes>,
    { role, path },
  );
}

describe("AuditPage", { timeout: 30_000 }, () => {
  it("puts a filter in the URL and asks the API with it, from the newest page", async () => {
    const user = userEvent.setup({ delay: null });
    const calls = stubApi({ list: () => ({ next: null, previous: null, results: [record(3)] }) });
    page("/audit?cursor=old&outcome=success");
    const table = await screen.findByRole("table", { name: "Audit records" });
    await waitFor(() => expect(table).toHaveTextContent("targets.target.updated"));
    await user.type(screen.getByLabelText("Actor"), "alice");
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("?outcome=success&actor=alice"));
    await waitFor(() => expect(calls.some((query) => query.actor === "alice" && query.outcome === "success" && !query.cursor && query.page_size === 50)).toBe(true));
    // the export carries the same filters
    await user.click(screen.getByRole("button", { name: "Export" }));
    expect(screen.getByRole("menuitem", { name: "These records as CSV" })).toHaveAttribute(
      "href",
      "/api/v1/audit/events/export/?actor=alice&outcome=success&as=csv",
    );
  });

  it("keeps both of two filters typed at the same moment", async () => {
    const calls = stubApi({ list: () => ({ next: null, previous: null, results: [] }) });
    page();
    await screen.findByText(/No record matches|The trail is empty/);
    fireEvent.change(screen.getByLabelText("Action"), { target: { value: "execution.run.requested" } });
    fireEvent.change(screen.getByLabelText("Object id"), { target: { value: "run-1" } });
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("?action=execution.run.requested&object_id=run-1"), { timeout: 5000 });
    await waitFor(() => expect(calls.some((query) => query.action === "execution.run.requested" && query.object_id === "run-1")).toBe(true));
    expect(screen.getByLabelText("Action")).toHaveValue("execution.run.requested");
  });

  it("walks to older records with the API's cursor and back to the newest", async () => {
    const user = userEvent.setup({ delay: null });
    const calls = stubApi({
      list: (query) =>
        query.cursor === "c2"
          ? { next: null, previous: "http://x/api/v1/audit/events/?cursor=c1b", results: [record(1)] }
          : { next: "http://x/api/v1/audit/events/?cursor=c2", previous: null, results: [record(3), record(2)] },
    });
    page();
    const table = await screen.findByRole("table", { name: "Audit records" });
    await waitFor(() => expect(within(table).getAllByRole("row")).toHaveLength(3));
    expect(screen.getByRole("button", { name: "Newer" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Older" }));
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("?cursor=c2"));
    await waitFor(() => expect(within(table).getAllByRole("row")).toHaveLength(2));
    expect(calls.some((query) => query.cursor === "c2")).toBe(true);
    expect(screen.getByRole("button", { name: "Older" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Newer" }));
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("?cursor=c1b"));
  });

  it("keeps the page as it is when records arrive, and offers them", async () => {
    const user = userEvent.setup({ delay: null });
    let head = 10;
    stubApi({
      list: () => ({ next: null, previous: null, results: [record(head), record(head - 1)] }),
      // two records arrived after the page was read
      newest: () => ({ next: null, previous: null, results: [record(12)] }),
    });
    page();
    const table = await screen.findByRole("table", { name: "Audit records" });
    await waitFor(() => expect(within(table).getAllByRole("row")).toHaveLength(3));
    head = 12;
    expect(await screen.findByText(/Newer records are available/)).toBeInTheDocument();
    // the page has not moved
    expect(within(table).getAllByRole("row")[1]).toHaveTextContent("targets.target.updated");
    expect(table.querySelector(`a[href$="${record(10).id}"]`)).not.toBeNull();
    await user.click(screen.getByRole("button", { name: "Show newest" }));
    await waitFor(() => expect(table.querySelector(`a[href$="${record(12).id}"]`)).not.toBeNull());
    expect(screen.queryByText(/Newer records are available/)).not.toBeInTheDocument();
  });

  it("shows the server's refusal to someone who may not read the trail", async () => {
    vi.spyOn(api, "GET").mockImplementation((() =>
      answer(403, { error: { code: "permission_denied", message: "Reading the audit trail needs the auditor capability." } })) as never);
    page("/audit", "viewer");
    expect(await screen.findByText("Reading the audit trail needs the auditor capability.")).toBeInTheDocument();
    expect(screen.getByText("Not allowed")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Export" })).not.toBeInTheDocument();
    expect(screen.queryByRole("table", { name: "Audit records" })).not.toBeInTheDocument();
  });
});
