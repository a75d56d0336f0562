// Search in the output: matches counted per line (plain text, case-insensitive), kept up to date
// incrementally as lines arrive (only added or changed lines are searched again).
import { plainText, type OutputBuffer } from "./buffer";

export interface MatchPosition {
  /** Index in buffer.lines. */
  line: number;
  /** Which match within that line, from 0. */
  occurrence: number;
}

function pattern(query: string): RegExp {
  return new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
}

/** Start offsets of the (non-overlapping) matches of `query` in `text`, case-insensitive. */
export function findMatches(text: string, query: string): { start: number; end: number }[] {
  if (!query) return [];
  const re = pattern(query);
  const found: { start: number; end: number }[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    found.push({ start: m.index, end: m.index + m[0].length });
    if (m[0].length === 0) re.lastIndex += 1;
  }
  return found;
}

function countMatches(text: string, re: RegExp): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text)) n += 1;
  return n;
}

export class SearchIndex {
  query = "";
  /** Matches per line index (0 for step headers). */
  counts: number[] = [];
  total = 0;
  private cursor = 0;
  private generation = -1;

  /**
   * Bring the index up to date with the buffer and the query, within `budgetMs` (a first search
   * of 100,000 lines is spread over several tasks instead of freezing the page). Returns whether
   * the index is complete.
   */
  update(buffer: OutputBuffer, query: string, budgetMs = Infinity): boolean {
    if (query !== this.query || buffer.generation !== this.generation) {
      this.query = query;
      this.generation = buffer.generation;
      this.counts = [];
      this.total = 0;
      this.cursor = 0;
    }
    const end = buffer.touchedCount;
    if (!query) {
      this.cursor = end;
      return true;
    }
    const re = pattern(query);
    const deadline = performance.now() + budgetMs;
    let last = -1;
    while (this.cursor < end) {
      const index = buffer.touched(this.cursor);
      this.cursor += 1;
      if (index === last) continue; // one open line extended by many chunks
      last = index;
      const line = buffer.lines[index];
      const n = line && line.kind === "text" ? countMatches(plainText(line), re) : 0;
      this.total += n - (this.counts[index] ?? 0);
      this.counts[index] = n;
      if ((this.cursor & 511) === 0 && performance.now() > deadline) break;
    }
    return this.cursor >= end;
  }

  /** 1-based position of a match among all matches (for "3 of 120"). */
  ordinal(position: MatchPosition): number {
    let before = 0;
    for (let i = 0; i < position.line; i += 1) before += this.counts[i] ?? 0;
    return before + position.occurrence + 1;
  }

  /** Whether a remembered position still names a match. */
  valid(position: MatchPosition | null): position is MatchPosition {
    return !!position && position.occurrence < (this.counts[position.line] ?? 0);
  }

  /** The first match at or after line `from` (wrapping around), or null. */
  firstFrom(from: number): MatchPosition | null {
    const n = this.counts.length;
    if (!this.total || !n) return null;
    const start = Math.min(Math.max(from, 0), n - 1);
    for (let k = 0; k < n; k += 1) {
      const line = (start + k) % n;
      if (this.counts[line]) return { line, occurrence: 0 };
    }
    return null;
  }

  next(position: MatchPosition | null): MatchPosition | null {
    if (!this.valid(position)) return this.firstFrom(0);
    if (position.occurrence + 1 < this.counts[position.line]) return { line: position.line, occurrence: position.occurrence + 1 };
    return this.firstFrom(position.line + 1 >= this.counts.length ? 0 : position.line + 1);
  }

  previous(position: MatchPosition | null): MatchPosition | null {
    if (!this.total) return null;
    if (this.valid(position) && position.occurrence > 0) return { line: position.line, occurrence: position.occurrence - 1 };
    const n = this.counts.length;
    const start = this.valid(position) ? position.line : 0;
    for (let k = 1; k <= n; k += 1) {
      const line = (((start - k) % n) + n) % n;
      const count = this.counts[line];
      if (count) return { line, occurrence: count - 1 };
    }
    return null;
  }
}
