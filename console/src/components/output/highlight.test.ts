import { describe, expect, it } from "vitest";
import { toSegments } from "./ansi";
import { highlight } from "./highlight";

describe("highlight", () => {
  it("marks matches across styled segments and keeps each piece's style", () => {
    const segments = toSegments("\u001b[32mINFO\u001b[0m line 99999 processing", "light");
    const pieces = highlight(segments, [{ start: 5, end: 15 }], 0);
    expect(pieces.map((p) => [p.text, p.mark, !!p.style?.color])).toEqual([
      ["INFO", 0, true],
      [" ", 0, false],
      ["line 99999", 2, false],
      [" processing", 0, false],
    ]);
  });

  it("splits a match that spans two segments and tells the current match from the others", () => {
    const pieces = highlight([{ text: "ab", style: { fontWeight: 700 } }, { text: "cdab" }], [{ start: 1, end: 3 }, { start: 4, end: 6 }], 1);
    expect(pieces.map((p) => [p.text, p.mark])).toEqual([
      ["a", 0],
      ["b", 1],
      ["c", 1],
      ["d", 0],
      ["ab", 2],
    ]);
  });
});
