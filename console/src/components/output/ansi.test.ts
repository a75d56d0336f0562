import { describe, expect, it } from "vitest";
import { contrast, keepSgrOnly, resolveCarriageReturns, stripAnsi, toSegments, visiblePrefix } from "./ansi";

const rgb = (css: string | undefined) => (css ?? "").match(/\d+/g)!.map(Number) as [number, number, number];

describe("ANSI", () => {
  it("turns SGR colours, bold and underline into styles", () => {
    const segments = toSegments("plain \u001b[31mred\u001b[0m \u001b[1;4mstrong\u001b[0m", "light");
    expect(segments.map((s) => s.text)).toEqual(["plain ", "red", " ", "strong"]);
    expect(segments[1].style?.color).toMatch(/^rgb\(/);
    expect(segments[0].style).toBeUndefined();
    expect(segments[3].style).toMatchObject({ fontWeight: 700, textDecoration: "underline" });
  });

  it("keeps colours readable on both themes (black on dark, white on light, dark 256-colour)", () => {
    const themes: ["dark" | "light", [number, number, number]][] = [["dark", [13, 17, 23]], ["light", [246, 248, 250]]];
    for (const [mode, bg] of themes) {
      for (const code of ["30", "37", "97", "38;5;16", "38;5;231", "38;2;20;20;20", "38;2;250;250;250"]) {
        const [segment] = toSegments(`\u001b[${code}mtext`, mode);
        expect(contrast(rgb(segment.style?.color), bg), `${mode} ${code}`).toBeGreaterThanOrEqual(4.5);
      }
    }
  });

  it("gives a coloured background a text colour that reads on it", () => {
    const [segment] = toSegments("\u001b[43mwarning", "dark");
    expect(segment.style?.backgroundColor).toBeDefined();
    expect(contrast(rgb(segment.style?.color), rgb(segment.style?.backgroundColor))).toBeGreaterThanOrEqual(4.5);
  });

  it("removes cursor movement, erase, OSC titles and OSC 8 hyperlinks without interpreting them", () => {
    const line =
      "a\u001b[2Jb\u001b[10;20Hc\u001b[Kd\u001b]0;window title\u0007e" +
      "\u001b]8;;https://evil.example/\u001b\\link\u001b]8;;\u001b\\f\u001b(Bg\u001b[?25lh\u0007\u0008i";
    expect(stripAnsi(line)).toBe("abcdelinkfghi");
    expect(keepSgrOnly("\u001b[1mx\u001b[2Ky\u001b[0m")).toBe("\u001b[1mxy\u001b[0m");
    expect(toSegments(keepSgrOnly(line), "light").map((s) => s.text).join("")).toBe("abcdelinkfghi");
  });

  it("leaves HTML as text and replacement characters as they are", () => {
    const line = "<script>alert(1)</script><img src=x onerror=alert(2)> \ufffd\ufffd";
    expect(toSegments(line, "dark")).toEqual([{ text: line }]);
    expect(toSegments(`\u001b[32m${line}`, "dark")[0].text).toBe(line);
  });

  it("shows what a terminal shows of a line rewritten with carriage returns", () => {
    expect(resolveCarriageReturns("10%\r50%\r100%")).toBe("100%");
    expect(resolveCarriageReturns("done\r")).toBe("done");
    expect(resolveCarriageReturns("plain")).toBe("plain");
  });

  it("caps a very long line and processes only what it shows", () => {
    const huge = "\u001b[32m" + "x".repeat(2_000_000) + "\u001b[0m";
    const started = performance.now();
    const { text, more } = visiblePrefix(huge, 10_000);
    expect(performance.now() - started).toBeLessThan(100);
    expect(stripAnsi(text).length).toBe(10_000);
    expect(text.startsWith("\u001b[32m")).toBe(true);
    expect(more).toBeGreaterThan(1_989_000);
    expect(visiblePrefix("short", 10_000)).toEqual({ text: "short", more: 0 });
  });

  it("never cuts an escape sequence in half at the cap", () => {
    const line = "a".repeat(9) + "\u001b[31mbbbb";
    const { text } = visiblePrefix(line, 10);
    expect(stripAnsi(text)).toBe("a".repeat(9) + "b");
    expect(toSegments(text, "light").map((s) => s.text).join("")).toBe("aaaaaaaaab");
  });
});
