import { describe, expect, it } from "vitest";
import { cursorOf, exportHref, filterQuery, filtersFromParams, pageSizeFromParams, reportRange, withCursor, withFilters } from "./filters";

describe("audit filters in the URL", () => {
  it("reads every filter of the API and ignores what is not one", () => {
    const params = new URLSearchParams(
      "q=deploy&actor=alice&actor_id=7&actor_kind=user&action=a.b.c&action_prefix=a.&object=run:1&object_type=run&object_id=1&outcome=denied&source_ip=10.0.0.1&request_id=r1&since=2026-01-01T00:00:00.000Z&until=2026-02-01T00:00:00.000Z&cursor=abc&page_size=100&bogus=1&actor=",
    );
    expect(filtersFromParams(params)).toEqual({
      q: "deploy",
      actor: "alice",
      actor_id: "7",
      actor_kind: "user",
      action: "a.b.c",
      action_prefix: "a.",
      object: "run:1",
      object_type: "run",
      object_id: "1",
      outcome: "denied",
      source_ip: "10.0.0.1",
      request_id: "r1",
      since: "2026-01-01T00:00:00.000Z",
      until: "2026-02-01T00:00:00.000Z",
    });
    expect(pageSizeFromParams(params)).toBe(100);
    expect(pageSizeFromParams(new URLSearchParams("page_size=7"))).toBe(50);
  });

  it("starts again at the newest page when a filter changes, and keeps the other filters", () => {
    const params = new URLSearchParams("actor=alice&cursor=abc&page_size=25");
    const next = withFilters(params, { outcome: "denied", actor: null });
    expect(next.get("cursor")).toBeNull();
    expect(next.get("actor")).toBeNull();
    expect(next.get("outcome")).toBe("denied");
    expect(next.get("page_size")).toBe("25");
  });

  it("moves between pages with the API's cursors and keeps the filters", () => {
    const link = "http://127.0.0.1:8000/api/v1/audit/events/?actor=alice&cursor=eyJzIjo1fQ&page_size=2";
    expect(cursorOf(link)).toBe("eyJzIjo1fQ");
    expect(cursorOf(null)).toBeNull();
    const next = withCursor(new URLSearchParams("actor=alice"), cursorOf(link));
    expect(next.toString()).toBe("actor=alice&cursor=eyJzIjo1fQ");
    expect(withCursor(next, null).toString()).toBe("actor=alice");
  });

  it("exports exactly the filters shown, without the page's cursor", () => {
    const filters = filtersFromParams(new URLSearchParams("action=targets.credential.updated&cursor=x&page_size=25"));
    expect(exportHref(filters, "csv")).toBe("/api/v1/audit/events/export/?action=targets.credential.updated&as=csv");
    expect(exportHref({}, "jsonl")).toBe("/api/v1/audit/events/export/?as=jsonl");
    expect(filterQuery(filters).has("cursor")).toBe(false);
  });

  it("makes the report's range from a named period or a custom one", () => {
    const now = new Date("2026-03-29T10:00:30Z");
    expect(reportRange(new URLSearchParams(""), now)).toEqual({ period: "24h", since: "2026-03-28T10:01:00.000Z", until: "2026-03-29T10:01:00.000Z" });
    expect(reportRange(new URLSearchParams("period=7d"), now).since).toBe("2026-03-22T10:01:00.000Z");
    expect(reportRange(new URLSearchParams("since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z"), now)).toEqual({
      period: "custom",
      since: "2026-01-01T00:00:00Z",
      until: "2026-02-01T00:00:00Z",
    });
  });
});
