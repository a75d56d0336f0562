import { act, fireEvent, screen, within } from "@testing-library/react";
import { useLocation } from "react-router";
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

import { SELECTOR_DEBOUNCE_MS } from "../../components/SelectorBox";
import TargetsListPage from "./TargetsListPage";

function target(name: string, health = "healthy") {
  return {
    id: `id-${name}`,
    name,
    os_family: "linux",
    environment: "production",
    status: "active",
    connection_methods: [{ id: "m", protocol: "ssh", host: `${name}.example.com`, port: 22, is_primary: true }],
    health: { status: health, checked_at: null, latency_ms: null, message: "" },
    tags: ["web"],
    labels: { role: "frontend" },
  };
}

function Location() {
  const location = useLocation();
  return <output data-testid="location">{location.search}</output>;
}

/** The list requests sent (GET /api/v1/targets/), as their query strings. */
function listRequests(): URLSearchParams[] {
  return fetchMock.mock.calls
    .map(([request]) => new URL((request as Request).url))
    .filter((url) => url.pathname === "/api/v1/targets/")
    .map((url) => url.searchParams);
}

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true });
  fetchMock.mockReset();
  fetchMock.mockImplementation(async (request: Request) => {
    const url = new URL(request.url);
    const body =
      url.pathname === "/api/v1/targets/select/"
        ? { count: 120, results: [target("web-01")] }
        : { count: 120, results: [target("web-01"), target("web-02", "auth_failed")] };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  });
});
afterEach(() => vi.useRealTimers());

describe("the targets list", () => {
  it("asks the server for the view the URL describes and shows it", async () => {
    renderWith(
      <>
        <TargetsListPage />
        <Location />
      </>,
      { path: "/targets?selector=tag%3Aweb&search=fra&ordering=-health_status&page=2&page_size=25" },
    );
    const table = await screen.findByRole("table", { name: "Targets" });
    const query = listRequests()[0];
    expect(Object.fromEntries(query)).toEqual({
      selector: "tag:web",
      search: "fra",
      page: "2",
      page_size: "25",
      ordering: "-health_status",
    });
    expect(screen.getByLabelText("Selector")).toHaveValue("tag:web");
    expect(screen.getByLabelText("Search")).toHaveValue("fra");
    expect(within(table).getByText("Auth failed")).toBeInTheDocument();
    expect(within(table).getByText("web-01.example.com")).toBeInTheDocument();
    expect(screen.getByText("26–50 of 120")).toBeInTheDocument();
  });

  it("filters by the health statuses and pending host keys of a dashboard link, each removable", async () => {
    renderWith(
      <>
        <TargetsListPage />
        <Location />
      </>,
      { path: "/targets?health_status=host_key_mismatch&health_status=host_key_unknown&host_key_pending=true" },
    );
    await screen.findByRole("table", { name: "Targets" });
    const query = listRequests()[0];
    expect(query.getAll("health_status")).toEqual(["host_key_mismatch", "host_key_unknown"]);
    expect(query.get("host_key_pending")).toBe("true");
    const filters = screen.getByRole("region", { name: "Active filters" });
    expect(within(filters).getByText("Health: Host key changed")).toBeInTheDocument();
    const pendingChip = within(filters).getByText("Host key waiting for approval").closest(".MuiChip-root") as HTMLElement;
    fireEvent.click(within(pendingChip).getByTestId("CancelIcon"));
    expect(screen.getByTestId("location").textContent).toBe("?health_status=host_key_mismatch&health_status=host_key_unknown");
    await vi.waitFor(() => expect(listRequests().at(-1)?.get("host_key_pending")).toBeNull());
  });

  it("puts a sort in the URL and starts again at page 1", async () => {
    renderWith(
      <>
        <TargetsListPage />
        <Location />
      </>,
      { path: "/targets?page=3" },
    );
    await screen.findByRole("table", { name: "Targets" });
    fireEvent.click(screen.getByRole("button", { name: "Environment" }));
    expect(screen.getByTestId("location").textContent).toBe("?ordering=environment");
    fireEvent.click(screen.getByRole("button", { name: "Environment" }));
    expect(screen.getByTestId("location").textContent).toBe("?ordering=-environment");
    await vi.waitFor(() => expect(listRequests().at(-1)?.get("ordering")).toBe("-environment"));
    expect(listRequests().at(-1)?.get("page")).toBe("1");
  });

  it("writes a typed selector to the URL once the typing stops", async () => {
    renderWith(
      <>
        <TargetsListPage />
        <Location />
      </>,
      { path: "/targets?page=4" },
    );
    await screen.findByRole("table", { name: "Targets" });
    fireEvent.change(screen.getByLabelText("Selector"), { target: { value: "env=staging" } });
    fireEvent.change(screen.getByLabelText("Selector"), { target: { value: "env=staging and tag:db" } });
    expect(screen.getByTestId("location").textContent).toBe("?page=4");
    act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS + 10));
    expect(screen.getByTestId("location").textContent).toBe("?selector=env%3Dstaging+and+tag%3Adb");
    expect(screen.getByLabelText("Selector")).toHaveValue("env=staging and tag:db");
    await vi.waitFor(() => expect(listRequests().at(-1)?.get("selector")).toBe("env=staging and tag:db"));
  });

  it("puts the page size in the URL", async () => {
    renderWith(
      <>
        <TargetsListPage />
        <Location />
      </>,
      { path: "/targets" },
    );
    await screen.findByRole("table", { name: "Targets" });
    fireEvent.mouseDown(screen.getByRole("combobox"));
    fireEvent.click(await screen.findByRole("option", { name: "100" }));
    expect(screen.getByTestId("location").textContent).toBe("?page_size=100");
  });
});
