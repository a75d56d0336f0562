// Search matches laid over styled segments: each piece keeps its ANSI style, and the pieces
// inside a match are marked (the current match differently).
import type { Segment } from "./ansi";

export interface Piece extends Segment {
  /** 0 outside a match, 1 inside a match, 2 inside the current match. */
  mark: 0 | 1 | 2;
}

export function highlight(
  segments: Segment[],
  matches: { start: number; end: number }[],
  current: number,
): Piece[] {
  if (!matches.length) return segments.map((s) => ({ ...s, mark: 0 }));
  const pieces: Piece[] = [];
  let offset = 0;
  let m = 0;
  for (const segment of segments) {
    const end = offset + segment.text.length;
    let at = offset;
    while (at < end) {
      while (m < matches.length && matches[m].end <= at) m += 1;
      const match = matches[m];
      let to: number;
      let mark: 0 | 1 | 2 = 0;
      if (!match || match.start >= end) to = end;
      else if (match.start > at) to = match.start;
      else {
        to = Math.min(match.end, end);
        mark = m === current ? 2 : 1;
      }
      pieces.push({ text: segment.text.slice(at - offset, to - offset), style: segment.style, mark });
      at = to;
    }
    offset = end;
  }
  return pieces;
}
