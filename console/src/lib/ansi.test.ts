import { describe, expect, it } from "vitest";
import { stripAnsi } from "./ansi";

describe("stripAnsi", () => {
  it("removes colours, cursor movement and erase", () => {
    expect(stripAnsi("\u001b[31mred\u001b[0m \u001b[2J\u001b[1;1Hok\u001b[K")).toBe("red ok");
  });
  it("removes OSC 8 hyperlinks and titles, keeping the visible text", () => {
    expect(stripAnsi("\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007 \u001b]0;title\u001b\\done")).toBe("click done");
  });
  it("keeps tabs and newlines, and HTML as text", () => {
    expect(stripAnsi("a\tb\n<script>x</script>\r")).toBe("a\tb\n<script>x</script>");
  });
});
