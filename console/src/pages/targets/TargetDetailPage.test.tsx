import { fireEvent, screen, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
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

import TargetDetailPage from "./TargetDetailPage";

const ID = "11111111-1111-1111-1111-111111111111";
const TARGET = {
  id: ID,
  name: "web-01",
  description: "",
  os_family: "linux",
  environment: "production",
  status: "active",
  host_key_policy: "strict",
  region: "eu-west",
  data_center: "",
  location: "",
  connection_methods: [{ id: "m1", protocol: "ssh", host: "web-01.example.com", port: 22, is_primary: true, priority: 0 }],
  health: { status: "host_key_mismatch", checked_at: null, latency_ms: null, message: "host key changed" },
  tags: ["web"],
  labels: { role: "frontend" },
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};
const KEY = (id: string, state: string, fingerprint: string) => ({
  id,
  method_id: "m1",
  address: "web-01.example.com:22",
  algorithm: "ssh-ed25519",
  public_key: "AAAA",
  fingerprint,
  state,
  source: state === "pending" ? "connection" : "manual",
  created_at: "2026-01-01T00:00:00Z",
  last_seen_at: null,
  decided_at: null,
  decided_by: null,
});

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

let approveAnswer: () => Response;

beforeEach(() => {
  fetchMock.mockReset();
  approveAnswer = () => json(200, KEY("k2", "trusted", "SHA256:new"));
  fetchMock.mockImplementation(async (request: Request) => {
    const path = new URL(request.url).pathname;
    if (path.endsWith("/approve/")) return approveAnswer();
    if (path === `/api/v1/targets/${ID}/`) return json(200, TARGET);
    if (path === `/api/v1/targets/${ID}/host-keys/`)
      return json(200, [KEY("k1", "trusted", "SHA256:old"), KEY("k2", "pending", "SHA256:new")]);
    if (path === `/api/v1/targets/${ID}/health-checks/`) return json(200, { count: 0, results: [] });
    if (path === "/api/v1/runs/") return json(200, { count: 0, results: [] });
    if (path === "/api/v1/groups/") return json(200, { count: 1, results: [{ id: "g1", name: "frontends", members: [ID] }] });
    return json(404, { error: { code: "not_found", message: "Not found." } });
  });
});

function show(role: "viewer" | "manager" | "admin") {
  return renderWith(
    <Routes>
      <Route path="/targets/:id" element={<TargetDetailPage />} />
    </Routes>,
    { role, path: `/targets/${ID}` },
  );
}

describe("a target's page", () => {
  it("shows a changed host key, its fingerprints, and the group the target is in", async () => {
    show("admin");
    const keys = await screen.findByRole("table", { name: "Host keys" }, { timeout: 5000 });
    expect(within(keys).getByText("SHA256:new")).toBeInTheDocument();
    expect(within(keys).getByText("Pending approval")).toBeInTheDocument();
    expect(within(keys).getByText(/Changed: differs from the trusted ssh-ed25519 key/)).toBeInTheDocument();
    expect(await screen.findByText("frontends")).toBeInTheDocument();
    expect(screen.getAllByText("Host key changed").length).toBeGreaterThan(0);
  });

  it("asks before trusting a key, says which trusted key it replaces, and shows why the server refused", async () => {
    approveAnswer = () => json(403, { error: { code: "permission_denied", message: "Only admins decide host keys." } });
    show("admin");
    const keys = await screen.findByRole("table", { name: "Host keys" }, { timeout: 5000 });
    fireEvent.click(within(keys).getByRole("button", { name: "Approve" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText(/The trusted ssh-ed25519 key SHA256:old will be rejected/)).toBeInTheDocument();
    fireEvent.click(within(dialog).getByRole("button", { name: "Trust the key" }));
    // the API's own message, not only its status
    await vi.waitFor(() => expect(dialog.textContent).toContain("Only admins decide host keys."), { timeout: 3000 });
    expect(within(dialog).getByText("Not allowed")).toBeInTheDocument();
    expect(fetchMock.mock.calls.some(([request]) => (request as Request).url.endsWith("/host-keys/k2/approve/"))).toBe(true);
  });

  it("lets a manager scan but not approve, and a viewer do neither", async () => {
    show("manager");
    const keys = await screen.findByRole("table", { name: "Host keys" }, { timeout: 5000 });
    expect(within(keys).getByRole("button", { name: "Approve" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Scan host key" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Check health now" })).toBeEnabled();
  });

  it("disables every change for a viewer, with the reason", async () => {
    show("viewer");
    await screen.findByRole("table", { name: "Host keys" }, { timeout: 5000 });
    expect(screen.getByRole("button", { name: "Scan host key" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Check health now" })).toBeDisabled();
    expect(screen.getByLabelText(/Check health now: Health checks need the operator role/)).toBeInTheDocument();
  });
});
