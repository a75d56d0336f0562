import { describe, expect, it } from "vitest";
import { OutputBuffer, plainText, type TextLine } from "./buffer";

const sync = () => new OutputBuffer({ schedule: (flush) => flush() });
const texts = (b: OutputBuffer) => b.lines.map((l) => (l.kind === "step" ? `#${l.step}` : `${l.number}:${l.stream}:${l.text}`));

describe("OutputBuffer", () => {
  it("joins a line split over chunks and starts new lines at each line break", () => {
    const b = sync();
    b.append({ step: null, stream: "stdout", text: "hel" });
    b.append({ step: null, stream: "stdout", text: "lo\nwor" });
    b.append({ step: null, stream: "stdout", text: "ld\n\nlast" });
    expect(texts(b)).toEqual(["1:stdout:hello", "2:stdout:world", "3:stdout:", "4:stdout:last"]);
    expect(b.lineCount).toBe(4);
  });

  it("handles \\r\\n, also when split between two chunks", () => {
    const b = sync();
    b.append({ step: null, stream: "stdout", text: "one\r\ntwo\r" });
    b.append({ step: null, stream: "stdout", text: "\nthree\r\n" });
    expect(texts(b)).toEqual(["1:stdout:one", "2:stdout:two", "3:stdout:three"]);
  });

  it("keeps stdout and stderr lines apart when their chunks interleave", () => {
    const b = sync();
    b.append([
      { step: 1, stream: "stdout", text: "out-a" },
      { step: 1, stream: "stderr", text: "err-1\n" },
      { step: 1, stream: "stdout", text: "out-b\n" },
    ]);
    expect(texts(b)).toEqual(["#1", "1:stdout:out-aout-b", "2:stderr:err-1"]);
  });

  it("puts a header before each step and ends open lines when the step changes", () => {
    const b = sync();
    b.append([
      { step: 1, stream: "stdout", text: "no newline" },
      { step: 2, stream: "stdout", text: "second\n" },
      { step: null, stream: "marker", text: "[output truncated]\n" },
    ]);
    expect(texts(b)).toEqual(["#1", "1:stdout:no newline", "#2", "2:stdout:second", "3:marker:[output truncated]"]);
    expect(b.toPlainText((step) => (step === 2 ? "restart" : undefined))).toBe(
      "Step 1\nno newline\nStep 2: restart\nsecond\n[output truncated]\n",
    );
  });

  it("replaces a changed line by a new object and logs what was touched", () => {
    const b = sync();
    b.append({ step: null, stream: "stdout", text: "a\nb" });
    const before = b.lines[1];
    const { cursor } = b.touchedSince(0);
    b.append({ step: null, stream: "stdout", text: "c\nd\n" });
    expect(b.lines[1]).not.toBe(before);
    expect(b.lines[0]).toBe(b.lines[0]);
    expect(b.touchedSince(cursor).indices).toEqual([1, 2]);
  });

  it("appends 100,000 lines in chunks in linear time", () => {
    const b = sync();
    const chunk = Array.from({ length: 1000 }, (_, i) => `line ${i} \u001b[32mok\u001b[0m`).join("\n") + "\n";
    const started = performance.now();
    for (let i = 0; i < 100; i += 1) b.append({ step: 1, stream: "stdout", text: chunk.slice(0, 5000) + chunk.slice(5000) });
    expect(b.lineCount).toBe(100_000);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(plainText(b.lines[100_000] as TextLine)).toBe("line 999 ok");
  });

  it("notifies subscribers once per scheduled flush, not once per chunk", () => {
    const flushes: (() => void)[] = [];
    const b = new OutputBuffer({ schedule: (flush) => flushes.push(flush) });
    let calls = 0;
    b.subscribe(() => (calls += 1));
    for (let i = 0; i < 50; i += 1) b.append({ step: null, stream: "stdout", text: `${i}\n` });
    expect(flushes).toHaveLength(1);
    flushes[0]();
    expect(calls).toBe(1);
    expect(b.getRevision()).toBe(1);
  });

  it("starts over after clear()", () => {
    const b = sync();
    b.append({ step: 1, stream: "stdout", text: "x\n" });
    const generation = b.generation;
    b.clear();
    b.append({ step: 1, stream: "stdout", text: "y\n" });
    expect(texts(b)).toEqual(["#1", "1:stdout:y"]);
    expect(b.generation).toBe(generation + 1);
  });
});
