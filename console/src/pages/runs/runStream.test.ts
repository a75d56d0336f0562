import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { applyStates, runTargetsKey } from "./runCache";
import { EventCursor, parseEvent, type RunStreamEvent } from "./runStream";
import { OutputBus } from "./TargetPanel";

describe("the run stream's events", () => {
  it("are parsed from their SSE type, id and JSON data", () => {
    expect(parseEvent("output", "7", '{"run_target_id":"t1","target":"web-01","step":1,"stream":"stdout","text":"ok\\n"}')).toMatchObject({
      id: 7,
      kind: "output",
      text: "ok\n",
    });
    expect(parseEvent("end", "9", '{"status":"failed"}')).toEqual({ id: 9, kind: "end", status: "failed" });
    expect(parseEvent("output", "x", "{}")).toBeNull();
    expect(parseEvent("state", "3", "not json")).toBeNull();
  });

  it("are handed over once each, in order, after a reconnect that repeats some", () => {
    const cursor = new EventCursor();
    const seen = [1, 2, 3, 2, 3, 4].filter((id) => cursor.accept({ id, kind: "state", type: "note" }));
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(cursor.last).toBe(4);
  });
});

describe("applyStates", () => {
  it("changes a target's row in place on every cached page, and the one target shown", () => {
    const client = new QueryClient();
    const row = { id: "rt1", target_id: "t1", target_name: "web-01", status: "running", exit_code: null, reason: "" };
    client.setQueryData([...runTargetsKey("r1"), { page: 1 }], { count: 1, results: [row] });
    client.setQueryData([...runTargetsKey("r1"), "one", "t1"], row);
    const events: RunStreamEvent[] = [{ id: 5, kind: "state", type: "target", run_target_id: "rt1", status: "failed", reason: "exit 1", exit_code: 1 }];
    expect(applyStates(client, "r1", events)).toBe(true);
    const page = client.getQueryData<{ results: (typeof row)[] }>([...runTargetsKey("r1"), { page: 1 }]);
    expect(page?.results[0]).toMatchObject({ status: "failed", reason: "exit 1", exit_code: 1 });
    expect(client.getQueryData([...runTargetsKey("r1"), "one", "t1"])).toMatchObject({ status: "failed" });
  });
});

describe("OutputBus", () => {
  it("gives each panel only its target's output", () => {
    const bus = new OutputBus();
    const got: string[] = [];
    const stop = bus.subscribe("rt1", (events) => got.push(...events.map((event) => event.text)));
    bus.publish([
      { id: 1, kind: "output", run_target_id: "rt1", target: "a", step: 1, stream: "stdout", text: "mine" },
      { id: 2, kind: "output", run_target_id: "rt2", target: "b", step: 1, stream: "stdout", text: "other" },
    ]);
    stop();
    bus.publish([{ id: 3, kind: "output", run_target_id: "rt1", target: "a", step: 1, stream: "stdout", text: "late" }]);
    expect(got).toEqual(["mine"]);
  });
});
