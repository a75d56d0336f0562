import { describe, expect, it } from "vitest";
import { diffLines, hunks, toYaml } from "./diff";

const kinds = (before: string[], after: string[]) =>
  diffLines(before, after).map((line) => `${line.kind === "same" ? " " : line.kind === "added" ? "+" : "-"}${line.text}`);

describe("diffLines", () => {
  it("marks nothing when the texts are equal", () => {
    expect(kinds(["a", "b"], ["a", "b"])).toEqual([" a", " b"]);
  });

  it("finds a changed line between unchanged ones, with both line numbers", () => {
    const lines = diffLines(["a", "b", "c"], ["a", "B", "c"]);
    expect(lines.map((l) => [l.kind, l.text, l.oldNumber, l.newNumber])).toEqual([
      ["same", "a", 1, 1],
      ["removed", "b", 2, undefined],
      ["added", "B", undefined, 2],
      ["same", "c", 3, 3],
    ]);
  });

  it("handles texts that are empty on either side", () => {
    expect(kinds([], ["x", "y"])).toEqual(["+x", "+y"]);
    expect(kinds(["x"], [])).toEqual(["-x"]);
    expect(kinds([], [])).toEqual([]);
  });

  it("keeps moved-around lines as few edits as possible (shortest edit script)", () => {
    const before = ["a", "b", "c", "a", "b", "b", "a"];
    const after = ["c", "b", "a", "b", "a", "c"];
    const result = diffLines(before, after);
    const edits = result.filter((l) => l.kind !== "same").length;
    expect(edits).toBe(5); // Myers' classic example: D = 5
    // applying the diff gives both texts back
    expect(result.filter((l) => l.kind !== "added").map((l) => l.text)).toEqual(before);
    expect(result.filter((l) => l.kind !== "removed").map((l) => l.text)).toEqual(after);
  });

  it("reconstructs both sides for random texts", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let round = 0; round < 50; round += 1) {
      const make = () => Array.from({ length: Math.floor(random() * 12) }, () => "abcd"[Math.floor(random() * 4)]);
      const before = make();
      const after = make();
      const result = diffLines(before, after);
      expect(result.filter((l) => l.kind !== "added").map((l) => l.text)).toEqual(before);
      expect(result.filter((l) => l.kind !== "removed").map((l) => l.text)).toEqual(after);
    }
  });
});

describe("hunks", () => {
  it("folds long unchanged runs, keeping context around changes", () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const after = [...before];
    after[10] = "changed";
    const parts = hunks(diffLines(before, after), 2);
    expect(parts.map((p) => [p.kind, p.lines.length])).toEqual([
      ["skipped", 8],
      ["lines", 6],
      ["skipped", 7],
    ]);
  });
});

describe("toYaml", () => {
  it("writes a definition as readable block YAML, scripts as block scalars", () => {
    const lines = toYaml({
      name: "deploy",
      labels: {},
      parameters: [{ name: "channel", type: "choice", choices: ["stable", "beta"], default: "true" }],
      steps: [{ name: "migrate", kind: "script", script: "set -eu\n./manage migrate\n", env: { RELEASE: "{{ v }}" }, timeout_seconds: 600 }],
    });
    expect(lines).toEqual([
      "name: deploy",
      "labels: {}",
      "parameters:",
      "  - name: channel",
      "    type: choice",
      "    choices:",
      "      - stable",
      "      - beta",
      '    default: "true"',
      "steps:",
      "  - name: migrate",
      "    kind: script",
      "    script: |",
      "      set -eu",
      "      ./manage migrate",
      "    env:",
      '      RELEASE: "{{ v }}"',
      "    timeout_seconds: 600",
    ]);
  });

  it("marks a script without a final newline, and quotes what YAML would read otherwise", () => {
    expect(toYaml({ s: "a\nb", n: null, t: "yes", e: "" })).toEqual(["s: |-", "  a", "  b", "n: null", 't: "yes"', 'e: ""']);
  });
});
