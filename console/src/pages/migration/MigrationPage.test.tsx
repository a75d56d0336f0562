import { fireEvent, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
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

import MigrationPage from "./MigrationPage";

function traffic(total: number, errors = 0) {
  return { total, by_status_class: { "2xx": total - errors, ...(errors ? { "5xx": errors } : {}) }, by_method: { GET: total } };
}

function route(prefix: string, mode: string, day: number, id: string | null) {
  return {
    id, prefix, mode, source: id ? "database" : "settings", new_url: "", adapter: "", message: "", note: "",
    updated_at: null, last_day: traffic(day, prefix === "/api/v3" ? 3 : 0), last_week: traffic(day * 7), last_seen: null,
  };
}

const ROUTES = [route("/api/v3", "proxy", 75, null), route("/api/v3/jobs", "migrated", 25, "r-jobs")];
const ADAPTERS = [
  { name: "legacy-jobs", description: "jobs", access: "viewer", root: "/api/v3/jobs" },
  { name: "legacy-targets", description: "targets", access: "viewer", root: "/api/v3/targets" },
];
const RUNS = {
  count: 1,
  next: null,
  previous: null,
  results: [{ id: "i-1", status: "finished", started_at: "2026-12-01T10:00:00Z", finished_at: "2026-12-01T10:05:00Z", only: [], ok: false, error: "", totals: { read: 10, imported: 8, already_present: 0, skipped: 1, failed: 1 } }],
};

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeEach(() => {
  fetchMock.mockReset();
  fetchMock.mockImplementation(async (request: Request) => {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/api/v1/bridge/routes/") return json({ ...ROUTES[0], id: "new" }, 201);
    if (url.pathname === "/api/v1/bridge/routes/") return json(ROUTES);
    if (url.pathname === "/api/v1/bridge/adapters/") return json(ADAPTERS);
    if (url.pathname === "/api/v1/bridge/import-runs/") return json(RUNS);
    if (url.pathname === "/api/v1/bridge/import-runs/i-1/") {
      return json({ ...RUNS.results[0], report: { tables: { targets: { table: "targets", read: 10, imported: 8, already_present: 0, skipped: 1, failed: 1, failures: [{ id: "7", reason: "no address" }], notes: [] } } } });
    }
    return json({ error: { code: "not_found", message: "Not found." } }, 404);
  });
});

function requests(method: string) {
  return fetchMock.mock.calls.map(([request]) => request as Request).filter((request) => request.method === method);
}

describe("the migration progress page", () => {
  it("shows the share still proxied, each prefix's traffic and adapters, and the import reports", async () => {
    renderWith(<MigrationPage />, { role: "admin", path: "/migration" });
    expect(await screen.findByTestId("proxied-day")).toHaveTextContent("75%");
    expect(screen.getByText(/of 100 legacy requests in the last 24 hours were proxied/)).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "Route table" });
    const v3 = within(table).getByText("/api/v3").closest("tr") as HTMLElement;
    expect(within(v3).getByText("3 server errors")).toBeInTheDocument();
    expect(within(v3).getByText("legacy-targets")).toBeInTheDocument();
    expect(within(v3).getByText("default from the settings")).toBeInTheDocument();

    const runs = await screen.findByRole("table", { name: "Import runs" });
    expect(within(runs).getByText("Finished with failures")).toBeInTheDocument();
    fireEvent.click(within(runs).getByRole("button", { name: /Report of the import/ }));
    expect(await screen.findByText("#7: no address")).toBeInTheDocument();
  });

  it("flips a prefix only after the review names what changes; a default gets a route of its own", async () => {
    renderWith(<MigrationPage />, { role: "admin", path: "/migration" });
    fireEvent.click(await screen.findByRole("button", { name: "Change the mode of /api/v3" }));
    const dialog = screen.getByRole("dialog", { name: "Change the mode of /api/v3" });
    fireEvent.click(within(dialog).getByRole("radio", { name: /^Retired/ }));
    fireEvent.change(within(dialog).getByLabelText("Message to callers"), { target: { value: "Use the new console" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Review" }));
    expect(within(dialog).getByText("/api/v3: proxy → retired.")).toBeInTheDocument();
    expect(within(dialog).getByText(/adds a route that overrides it/)).toBeInTheDocument();
    expect(requests("POST")).toHaveLength(0); // nothing sent before the confirmation
    fireEvent.click(within(dialog).getByRole("button", { name: "Flip to retired" }));
    await vi.waitFor(() => expect(requests("POST")).toHaveLength(1));
    expect(await requests("POST")[0].json()).toEqual({ prefix: "/api/v3", mode: "retired", adapter: "", new_url: "", message: "Use the new console" });
  });

  it("leaves flipping to admins and shows a refusal as the server's message", async () => {
    renderWith(<MigrationPage />, { role: "manager", path: "/migration" });
    const button = await screen.findByRole("button", { name: "Change the mode of /api/v3" });
    expect(button).toBeDisabled();

    fetchMock.mockImplementation(async () => json({ error: { code: "permission_denied", message: "Only admins change the bridge's routes; admins and auditors read them." } }, 403));
    renderWith(<MigrationPage />, { role: "manager", path: "/migration" });
    expect(await screen.findByText(/Only admins change the bridge's routes/)).toBeInTheDocument();
  });
});
