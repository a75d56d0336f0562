// Terminal output as styled text: SGR (colours, bold, underline, ...) becomes styles through
// anser's JSON mode; every other escape sequence is removed, never interpreted (no cursor
// movement, no erasing, no hyperlinks, no window titles). The result is plain strings that React
// renders as text nodes, so `<script>` in output is only ever text.
import Anser from "anser";
import type { CSSProperties } from "react";

const ESC = "\u001b";

// One alternation, tried left to right at each ESC/control character:
//  - OSC (ESC ] ... BEL | ESC \ | end of line): titles, OSC 8 hyperlinks, clipboard, ...
//  - DCS / SOS / PM / APC (ESC P|X|^|_ ... ESC \ | end of line)
//  - CSI (ESC [ params intermediates final): SGR is kept, the rest (cursor, erase, ...) removed
//  - other ESC sequences (charset selection, keypad modes, save/restore cursor, ...)
//  - the 8-bit C1 CSI (U+009B) form
//  - C0/C1 control characters other than tab, and a lone ESC at the end of a line
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\|$)|\u001b[PX^_][\s\S]*?(?:\u001b\\|$)|\u001b\[[0-?]*[ -/]*[@-~]|\u001b[ -/]*[0-~]|\u009b[0-?]*[ -/]*[@-~]|[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const SGR = /^\u001b\[[0-9;]*m$/;

/** The line with every escape sequence removed except SGR (colour/style) ones. */
export function keepSgrOnly(text: string): string {
  if (!hasControl(text)) return text;
  return text.replace(ESCAPES, (match) => (SGR.test(match) ? match : ""));
}

/** The line as plain text: every escape sequence and control character removed. */
export function stripAnsi(text: string): string {
  if (!hasControl(text)) return text;
  return text.replace(ESCAPES, "");
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
function hasControl(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * What a terminal would show of a line containing carriage returns (progress bars rewrite
 * their line with `\r`): the text after the last `\r` that is followed by something. A `\r`
 * at the very end (a `\r\n` split over two chunks, or a bar about to redraw) is ignored.
 */
export function resolveCarriageReturns(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 13) end -= 1;
  const cr = text.lastIndexOf("\r", end - 1);
  if (cr < 0) return end === text.length ? text : text.slice(0, end);
  return text.slice(cr + 1, end);
}

/**
 * The first `limit` visible characters of a line (carriage returns resolved, escapes other than
 * SGR removed), without processing the whole line: a 2 MB line costs only what is shown.
 * `more` is how many characters of the line (raw, escapes included) are not shown.
 */
export function visiblePrefix(raw: string, limit: number): { text: string; more: number } {
  const line = resolveCarriageReturns(raw);
  let take = Math.min(line.length, limit + 64);
  for (;;) {
    let part = line.slice(0, take);
    if (take < line.length) {
      // never cut an escape sequence in half: drop an unfinished one at the cut
      const esc = part.lastIndexOf(ESC);
      if (esc >= 0 && esc > part.length - 64 && !/[@-~]/.test(part.slice(esc + 2))) part = part.slice(0, esc);
    }
    const kept = keepSgrOnly(part);
    const visible = stripAnsi(kept).length;
    if (visible >= limit || take >= line.length) {
      if (visible <= limit) return { text: kept, more: line.length - part.length };
      const cut = cutVisible(kept, limit);
      return { text: cut, more: line.length - part.length + (visible - limit) };
    }
    take = Math.min(line.length, take * 2 + limit);
  }
}

// eslint-disable-next-line no-control-regex
const SGR_AT_START = /^\u001b\[[0-9;]*m/;

/** `text` (SGR kept) cut after `limit` visible characters. */
function cutVisible(text: string, limit: number): string {
  let visible = 0;
  let i = 0;
  while (i < text.length && visible < limit) {
    if (text.charCodeAt(i) === 27) {
      const m = SGR_AT_START.exec(text.slice(i, i + 64));
      if (m) {
        i += m[0].length;
        continue;
      }
    }
    visible += 1;
    i += 1;
  }
  return text.slice(0, i);
}

// ---------------------------------------------------------------------------------------------
// Colours

export type ThemeMode = "light" | "dark";

/** The background of the output area per theme; colours are checked for contrast against it. */
export const OUTPUT_BACKGROUND: Record<ThemeMode, string> = { light: "#f6f8fa", dark: "#0d1117" };
export const OUTPUT_FOREGROUND: Record<ThemeMode, string> = { light: "#1f2328", dark: "#e6edf3" };

const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"] as const;

// The 16 colours, tuned per theme so that each reads on the output background (contrast
// 4.5:1 or close; ensureContrast corrects the rest).
const PALETTE: Record<ThemeMode, string[]> = {
  light: [
    "#24292f", "#b3261e", "#1a7f37", "#7d4e00", "#0550ae", "#8250df", "#1b7c83", "#6e7781",
    "#57606a", "#a40e26", "#116329", "#633c01", "#0a3069", "#6639ba", "#0f5b60", "#424a53",
  ],
  dark: [
    "#8b949e", "#ff7b72", "#3fb950", "#d29922", "#58a6ff", "#bc8cff", "#39c5cf", "#e6edf3",
    "#a5afb9", "#ffa198", "#56d364", "#e3b341", "#79c0ff", "#d2a8ff", "#56d4dd", "#ffffff",
  ],
};

/** The xterm 256-colour palette entry n (16..255) as [r, g, b]. */
export function xterm256(n: number): [number, number, number] {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return [v, v, v];
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return [level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6)];
}

function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function luminance([r, g, b]: [number, number, number]): number {
  const f = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

export function contrast(a: [number, number, number], b: [number, number, number]): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function mix(a: [number, number, number], b: [number, number, number], t: number): [number, number, number] {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as [number, number, number];
}

/** `color` moved towards the theme's text colour until it reads on `background` (4.5:1). */
export function ensureContrast(
  color: [number, number, number],
  background: [number, number, number],
  mode: ThemeMode,
): [number, number, number] {
  if (contrast(color, background) >= 4.5) return color;
  const toward: [number, number, number] = luminance(background) > 0.4 ? [0, 0, 0] : [255, 255, 255];
  for (let t = 0.15; t < 1; t += 0.15) {
    const candidate = mix(color, toward, t);
    if (contrast(candidate, background) >= 4.5) return candidate;
  }
  return hexToRgb(OUTPUT_FOREGROUND[mode]);
}

const rgbCss = ([r, g, b]: [number, number, number]) => `rgb(${r}, ${g}, ${b})`;

/** An anser colour (a class name like `ansi-bright-red` / `ansi-palette-200` / `ansi-truecolor`) as RGB. */
function resolveColor(cls: string | null, truecolor: string | null, mode: ThemeMode): [number, number, number] | null {
  if (!cls) return null;
  if (cls === "ansi-truecolor") {
    const parts = (truecolor ?? "").split(",").map((p) => Number(p.trim()));
    return parts.length === 3 && parts.every((p) => p >= 0 && p <= 255) ? (parts as [number, number, number]) : null;
  }
  const palette = /^ansi-palette-(\d+)$/.exec(cls);
  if (palette) {
    const n = Number(palette[1]);
    return n < 16 ? hexToRgb(PALETTE[mode][n]) : xterm256(n);
  }
  const named = /^ansi-(bright-)?([a-z]+)$/.exec(cls);
  if (named) {
    const i = NAMES.indexOf(named[2] as (typeof NAMES)[number]);
    if (i >= 0) return hexToRgb(PALETTE[mode][i + (named[1] ? 8 : 0)]);
  }
  return null;
}

export interface Segment {
  text: string;
  style?: CSSProperties;
}

/**
 * A line (escapes other than SGR already removed, e.g. by visiblePrefix) as styled segments.
 * Colours are made readable on the theme's output background; a coloured background gets a
 * text colour that reads on it.
 */
export function toSegments(text: string, mode: ThemeMode): Segment[] {
  if (!text.includes(ESC)) return text ? [{ text }] : [];
  const entries = Anser.ansiToJson(text, { json: true, remove_empty: true, use_classes: true });
  const base = hexToRgb(OUTPUT_BACKGROUND[mode]);
  const segments: Segment[] = [];
  for (const entry of entries) {
    // anser's JSON carries raw text: anything it did not recognise stays text, never markup
    const content = stripAnsi(entry.content);
    if (!content) continue;
    const decorations = entry.decorations ?? [];
    let fg = resolveColor(entry.fg, entry.fg === "ansi-truecolor" ? entry.fg_truecolor : null, mode);
    let bg = resolveColor(entry.bg, entry.bg === "ansi-truecolor" ? entry.bg_truecolor : null, mode);
    if (decorations.includes("reverse")) {
      [fg, bg] = [bg ?? hexToRgb(OUTPUT_FOREGROUND[mode]), fg ?? base];
    }
    const style: CSSProperties = {};
    if (bg) {
      style.backgroundColor = rgbCss(bg);
      const text = fg ?? (luminance(bg) > 0.3 ? [0, 0, 0] : [255, 255, 255]);
      style.color = rgbCss(contrast(text, bg) >= 4.5 ? text : luminance(bg) > 0.3 ? [0, 0, 0] : [255, 255, 255]);
    } else if (fg) {
      style.color = rgbCss(ensureContrast(fg, base, mode));
    }
    if (decorations.includes("bold")) style.fontWeight = 700;
    if (decorations.includes("dim")) style.opacity = 0.75;
    if (decorations.includes("italic")) style.fontStyle = "italic";
    const lines = [
      decorations.includes("underline") ? "underline" : "",
      decorations.includes("strikethrough") ? "line-through" : "",
    ].filter(Boolean);
    if (lines.length) style.textDecoration = lines.join(" ");
    const last = segments[segments.length - 1];
    const styled = Object.keys(style).length > 0;
    if (!styled && last && !last.style) last.text += content;
    else segments.push(styled ? { text: content, style } : { text: content });
  }
  return segments;
}
