import { describe, expect, it } from "vitest";
import { OutputBuffer } from "./buffer";
import { findMatches, SearchIndex } from "./search";

const sync = () => new OutputBuffer({ schedule: (flush) => flush() });

describe("search", () => {
  it("finds matches case-insensitively, regex characters taken literally", () => {
    expect(findMatches("Error: error ERROR", "error")).toHaveLength(3);
    expect(findMatches("a.b axb a.b", "a.b")).toEqual([
      { start: 0, end: 3 },
      { start: 8, end: 11 },
    ]);
  });

  it("counts matches across lines, ignores ANSI codes and steps through them with wrap-around", () => {
    const b = sync();
    b.append({ step: 1, stream: "stdout", text: "fail one\n\u001b[31mFAIL\u001b[0m two fail\nok\nfail three\n" });
    const index = new SearchIndex();
    index.update(b, "fail");
    expect(index.total).toBe(4);
    // lines: 0 header, 1 "fail one", 2 "FAIL two fail", 3 "ok", 4 "fail three"
    let at = index.next(null);
    expect(at).toEqual({ line: 1, occurrence: 0 });
    at = index.next(at);
    expect(at).toEqual({ line: 2, occurrence: 0 });
    at = index.next(at);
    expect(at).toEqual({ line: 2, occurrence: 1 });
    expect(index.ordinal(at!)).toBe(3);
    at = index.next(at);
    expect(at).toEqual({ line: 4, occurrence: 0 });
    expect(index.next(at)).toEqual({ line: 1, occurrence: 0 }); // wraps to the first
    expect(index.previous({ line: 1, occurrence: 0 })).toEqual({ line: 4, occurrence: 0 }); // and back
    expect(index.previous({ line: 4, occurrence: 0 })).toEqual({ line: 2, occurrence: 1 });
    expect(index.firstFrom(3)).toEqual({ line: 4, occurrence: 0 });
  });

  it("keeps counting as lines arrive, including a match completed by a later chunk", () => {
    const b = sync();
    const index = new SearchIndex();
    b.append({ step: null, stream: "stdout", text: "war" });
    index.update(b, "warning");
    expect(index.total).toBe(0);
    b.append({ step: null, stream: "stdout", text: "ning: disk\nwarning again\n" });
    index.update(b, "warning");
    expect(index.total).toBe(2);
    index.update(b, "disk");
    expect(index.total).toBe(1);
    index.update(b, "");
    expect(index.total).toBe(0);
    expect(index.next(null)).toBeNull();
  });

  it("spreads a first search of much output over several calls within a time budget", () => {
    const b = sync();
    b.append({ step: null, stream: "stdout", text: "needle \u001b[1mhay\u001b[0m\n".repeat(200_000) });
    const index = new SearchIndex();
    let calls = 0;
    while (!index.update(b, "needle", 5)) calls += 1;
    expect(calls).toBeGreaterThan(1);
    expect(index.total).toBe(200_000);
  });
});
