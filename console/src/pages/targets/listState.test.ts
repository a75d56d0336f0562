import { describe, expect, it } from "vitest";
import { changeListState, DEFAULT_STATE, readListState, toggleSort, writeListState } from "./listState";

const read = (query: string) => readListState(new URLSearchParams(query));

describe("the targets list's URL state", () => {
  it("reads every part of the view from the URL", () => {
    expect(read("selector=tag%3Aweb&search=fra&ordering=-health_status&page=3&page_size=100")).toEqual({
      selector: "tag:web",
      search: "fra",
      health: [],
      hostKeyPending: false,
      page: 3,
      pageSize: 100,
      sort: "health_status",
      descending: true,
    });
  });

  it("falls back to the defaults for missing or bad values", () => {
    expect(read("")).toEqual(DEFAULT_STATE);
    expect(read("page=-2&page_size=7&ordering=password")).toEqual(DEFAULT_STATE);
    expect(read("page=abc&page_size=100000").pageSize).toBe(DEFAULT_STATE.pageSize);
  });

  it("writes a short URL (no defaults) that reads back the same", () => {
    expect(writeListState(DEFAULT_STATE).toString()).toBe("");
    const state = { ...DEFAULT_STATE, selector: "env=production and not tag:legacy", page: 2, pageSize: 200, sort: "status" as const };
    const query = writeListState(state).toString();
    expect(query).toBe("selector=env%3Dproduction+and+not+tag%3Alegacy&ordering=status&page_size=200&page=2");
    expect(read(query)).toEqual(state);
  });

  it("goes back to page 1 when a filter, the sort or the page size changes, not when the page does", () => {
    const on5 = { ...DEFAULT_STATE, page: 5 };
    expect(changeListState(on5, { selector: "tag:db" }).page).toBe(1);
    expect(changeListState(on5, { pageSize: 100 }).page).toBe(1);
    expect(changeListState(on5, { page: 6 }).page).toBe(6);
    expect(toggleSort(on5, "environment").page).toBe(1);
  });

  it("sorts by a column, then flips its direction", () => {
    const byEnv = toggleSort(DEFAULT_STATE, "environment");
    expect(writeListState(byEnv).get("ordering")).toBe("environment");
    expect(writeListState(toggleSort(byEnv, "environment")).get("ordering")).toBe("-environment");
    expect(toggleSort(toggleSort(byEnv, "environment"), "name")).toMatchObject({ sort: "name", descending: false });
  });
});

describe("health filters in the URL (the dashboard links to them)", () => {
  it("read and write any number of health statuses and the pending host keys flag", () => {
    const state = readListState(new URLSearchParams("health_status=host_key_mismatch&health_status=host_key_unknown&host_key_pending=true&page=3"));
    expect(state.health).toEqual(["host_key_mismatch", "host_key_unknown"]);
    expect(state.hostKeyPending).toBe(true);
    expect(writeListState(state).toString()).toBe("health_status=host_key_mismatch&health_status=host_key_unknown&host_key_pending=true&page=3");
    expect(changeListState(state, { health: [] }).page).toBe(1);
    expect(readListState(new URLSearchParams("host_key_pending=false")).hostKeyPending).toBe(false);
  });
});
