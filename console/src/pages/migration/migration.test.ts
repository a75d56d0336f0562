import { describe, expect, it } from "vitest";
import { adaptersFor, adaptersToName, describeFlip, flipBody, trafficShare, type Adapter, type Route } from "./migration";

function traffic(total: number) {
  return { total, by_status_class: { "2xx": total }, by_method: { GET: total } };
}

function route(prefix: string, mode: Route["mode"], day: number, week: number, id: string | null = `id-${prefix}`): Route {
  return {
    id,
    prefix,
    mode,
    source: id ? "database" : "settings",
    new_url: "",
    adapter: "",
    message: "",
    note: "",
    updated_at: null,
    last_day: traffic(day),
    last_week: traffic(week),
    last_seen: null,
  } as Route;
}

const adapters: Adapter[] = [
  { name: "legacy-jobs", description: "", access: "viewer", root: "/api/v3/jobs" },
  { name: "legacy-targets", description: "", access: "viewer", root: "/api/v3/targets" },
  { name: "anywhere", description: "", access: "admin", root: "" },
];

describe("the share of legacy traffic still proxied", () => {
  it("is the proxied prefixes' requests over every request of the period", () => {
    const routes = [route("/api/v3", "proxy", 30, 300), route("/api/v3/jobs", "migrated", 60, 600), route("/api/v3/old", "retired", 10, 100)];
    expect(trafficShare(routes, "last_day")).toEqual({ total: 100, byMode: { proxy: 30, migrated: 60, retired: 10, none: 0 }, proxiedPercent: 30 });
    expect(trafficShare([route("/api/v3", "proxy", 0, 0)], "last_week").proxiedPercent).toBe(0);
  });
});

describe("adapters per prefix", () => {
  it("lists the areas at or below a prefix, and names only the one rooted there (or any-prefix ones)", () => {
    expect(adaptersFor("/api/v3", adapters).map((a) => a.name)).toEqual(["legacy-jobs", "legacy-targets"]);
    expect(adaptersFor("/api/v3/jobs", adapters).map((a) => a.name)).toEqual(["legacy-jobs"]);
    expect(adaptersFor("/api/v3/job", adapters)).toEqual([]); // a sibling is not below it
    expect(adaptersToName("/api/v3/jobs", adapters).map((a) => a.name)).toEqual(["legacy-jobs", "anywhere"]);
  });
});

describe("a flip", () => {
  it("says what changes and sends only what the new mode takes", () => {
    const jobs = route("/api/v3/jobs", "proxy", 12, 40);
    const flip = { mode: "migrated" as const, adapter: "legacy-jobs", newUrl: "", message: "" };
    const lines = describeFlip(jobs, flip).join(" ");
    expect(lines).toContain("/api/v3/jobs: proxy → migrated.");
    expect(lines).toContain("through the adapter legacy-jobs");
    expect(lines).toContain("12 requests in the last 24 hours");
    expect(lines).toContain("recorded in the audit trail");
    expect(flipBody(jobs, flip)).toEqual({ prefix: "/api/v3/jobs", mode: "migrated", adapter: "legacy-jobs", new_url: "", message: "" });
    // back to proxy: the adapter is dropped (only a migrated prefix may name one)
    expect(flipBody({ ...jobs, mode: "migrated", adapter: "legacy-jobs" }, { ...flip, mode: "proxy" }).adapter).toBe("");
  });

  it("of a default from the settings says it adds an overriding route", () => {
    const lines = describeFlip(route("/api/v3", "proxy", 0, 0, null), { mode: "retired", adapter: "", newUrl: "", message: "Use the new console" });
    expect(lines.join(" ")).toContain('410 Gone ("Use the new console")');
    expect(lines.join(" ")).toContain("adds a route that overrides it");
  });
});
