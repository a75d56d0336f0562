import { describe, expect, it } from "vitest";
import { formatDuration, formatTime, utcTitle } from "./format";

describe("formatTime", () => {
  it("shows a moment with its zone named", () => {
    const text = formatTime("2026-03-29T01:30:00Z");
    expect(text).toMatch(/2026/);
    expect(text).toMatch(/UTC|GMT|[A-Z]{3,4}|[+-]\d/);
  });
  it("says nothing is there for no time", () => {
    expect(formatTime(null)).toBe("—");
  });
  it("gives the exact UTC for the hover", () => {
    expect(utcTitle("2026-03-29T01:30:05.123Z")).toMatch(/^2026-03-29 01:30:05 UTC/);
  });
});

describe("formatDuration", () => {
  it.each([
    [450, "450 ms"],
    [1500, "1.5 s"],
    [42_000, "42 s"],
    [125_000, "2 min 5 s"],
    [3_723_000, "1 h 2 min"],
  ])("%s ms reads %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
