import { describe, expect, it } from "vitest";
import { diffRows, formatValue, isMasked } from "./diff";

describe("an audit record's changes as diff rows", () => {
  it("makes a row per changed field, with before and after", () => {
    expect(diffRows({ username: { from: "deploy", to: "deployer" }, port: { from: 22, to: 2222 } })).toEqual([
      { path: "username", kind: "changed", before: "deploy", after: "deployer" },
      { path: "port", kind: "changed", before: 22, after: 2222 },
    ]);
  });

  it("says added when there was nothing before and removed when nothing is left", () => {
    const rows = diffRows({ description: { from: "", to: "new" }, allowed_targets: { from: "env=prod", to: "" } });
    expect(rows.map((row) => row.kind)).toEqual(["added", "removed"]);
  });

  it("walks a job version's sections: steps added, removed, changed and reordered", () => {
    const rows = diffRows({
      timeout: { from: 60, to: 120 },
      steps: {
        added: ["migrate"],
        removed: ["old"],
        changed: { deploy: { command: { from: "make", to: "make deploy" } } },
        reordered: { from: ["a", "b"], to: ["b", "a"] },
      },
    });
    expect(rows).toEqual([
      { path: "timeout", kind: "changed", before: 60, after: 120 },
      { path: "steps.migrate", kind: "added", note: "added" },
      { path: "steps.old", kind: "removed", note: "removed" },
      { path: "steps.deploy.command", kind: "changed", before: "make", after: "make deploy" },
      { path: "steps (order)", kind: "changed", before: ["a", "b"], after: ["b", "a"] },
    ]);
  });

  it("says a first version is all new, and nothing for no changes", () => {
    expect(diffRows({ created: true })).toEqual([{ path: "", kind: "note", note: "First version: everything is new." }]);
    expect(diffRows({})).toEqual([]);
    expect(diffRows(null)).toEqual([]);
    expect(diffRows("nonsense")).toEqual([]);
  });

  it("shows values as one line, secrets as recorded (masked)", () => {
    expect(formatValue(null)).toBe("—");
    expect(formatValue("")).toBe("(empty)");
    expect(formatValue(["a", 1])).toBe('["a",1]');
    expect(formatValue(false)).toBe("false");
    expect(isMasked("********")).toBe(true);
    expect(isMasked("********#abc")).toBe(true);
    expect(isMasked("hunter2")).toBe(false);
  });
});
