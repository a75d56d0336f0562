// The output of one target as lines, built append-only from chunks as they arrive.
//
// Chunks are pieces of a stream (stdout, stderr, or `marker` for the product's own notes), not
// whole lines: a line may be split over several chunks, and `\r\n` over two. Each stream has at
// most one open (unterminated) line; a chunk extends it and adds new lines after the last one,
// so appending costs only the chunk's length, never a re-split of what came before. A line that
// changes is replaced by a new object (rows re-render only when their line changed), and every
// touched index is logged so that a consumer (the search) looks only at what changed.
import { resolveCarriageReturns, stripAnsi } from "./ansi";

export interface OutputChunk {
  /** Step number (from 1), or null for output outside a step. */
  step: number | null;
  /** `stdout`, `stderr` or `marker`. */
  stream: string;
  text: string;
}

export interface TextLine {
  kind: "text";
  /** Line number in the whole output, from 1. */
  number: number;
  step: number | null;
  stream: string;
  /** The raw line, escapes included, without its line break. */
  text: string;
}

export interface StepLine {
  kind: "step";
  step: number;
}

export type OutputLine = TextLine | StepLine;

type Schedule = (flush: () => void) => void;

/** Lines reach the screen at most this often: a fast stream costs a few renders a second, not
 * one per chunk, and nobody reads faster than that. */
export const FLUSH_INTERVAL_MS = 100;

/**
 * The default schedule: the next frame, at least FLUSH_INTERVAL_MS after the previous render
 * ended, and at least as long as that render took (rendering takes at most half of the main
 * thread however fast output arrives: input, scrolling and the network keep the rest).
 */
function throttledFrames(): Schedule {
  let ended = 0;
  let cost = 0;
  return (flush) => {
    const run = () => {
      const started = performance.now();
      flush();
      // React renders the subscribers' update in a microtask queued by flush(): this one runs after it
      queueMicrotask(() => {
        ended = performance.now();
        cost = ended - started;
      });
    };
    if (typeof window === "undefined" || typeof window.requestAnimationFrame !== "function") {
      run();
      return;
    }
    const wait = Math.max(0, ended + Math.max(FLUSH_INTERVAL_MS, cost) - performance.now());
    window.setTimeout(() => {
      // rAF does not run in a hidden tab: a timer makes sure appends still land
      let done = false;
      const once = () => {
        if (!done) {
          done = true;
          run();
        }
      };
      window.requestAnimationFrame(once);
      window.setTimeout(once, 250);
    }, wait);
  };
}

const plainCache = new WeakMap<TextLine, string>();

/** A line as plain text (escapes removed, carriage returns resolved), computed once per line. */
export function plainText(line: TextLine): string {
  let plain = plainCache.get(line);
  if (plain === undefined) {
    plain = stripAnsi(resolveCarriageReturns(line.text));
    plainCache.set(line, plain);
  }
  return plain;
}

export class OutputBuffer {
  /** The lines, step headers included. Read-only for consumers. */
  readonly lines: OutputLine[] = [];
  /** Bumped (at most once per frame) after lines changed; what subscribers compare. */
  private revision = 0;
  /** Bumped by clear(): consumers holding state about lines start over. */
  generation = 0;
  private textLines = 0;
  private log: number[] = [];
  private open = new Map<string, number>();
  private lastStep: number | null | undefined = undefined;
  private listeners = new Set<() => void>();
  private pending = false;
  private readonly schedule: Schedule;

  constructor({ schedule }: { schedule?: Schedule } = {}) {
    this.schedule = schedule ?? throttledFrames();
  }

  /** The number of output lines (step headers not counted). */
  get lineCount(): number {
    return this.textLines;
  }

  append(chunks: OutputChunk | readonly OutputChunk[]): void {
    const list = Array.isArray(chunks) ? chunks : [chunks as OutputChunk];
    for (const chunk of list) this.appendOne(chunk);
    if (list.length) this.changed();
  }

  /** Forget everything (another target, a restarted load). */
  clear(): void {
    this.lines.length = 0;
    this.log = [];
    this.open.clear();
    this.lastStep = undefined;
    this.textLines = 0;
    this.generation += 1;
    this.changed();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getRevision = (): number => this.revision;

  /** How many times lines were added or changed (the length of the log touched() reads). */
  get touchedCount(): number {
    return this.log.length;
  }

  /** The index of the line added or changed at position `at` of the log. */
  touched(at: number): number {
    return this.log[at];
  }

  /** Indices of lines added or changed since `cursor` (a value this method returned before). */
  touchedSince(cursor: number): { indices: number[]; cursor: number } {
    return { indices: this.log.slice(cursor), cursor: this.log.length };
  }

  /** The whole output as plain text: escapes removed, step headers as lines of their own. */
  toPlainText(stepName?: (step: number) => string | undefined): string {
    const out: string[] = [];
    for (const line of this.lines) {
      if (line.kind === "step") out.push(stepHeading(line.step, stepName?.(line.step)));
      else out.push(plainText(line));
    }
    return out.length ? out.join("\n") + "\n" : "";
  }

  private appendOne({ step, stream, text }: OutputChunk): void {
    if (!text) return;
    if (step !== this.lastStep) {
      // a new step ends every open line of the previous one
      this.open.clear();
      this.lastStep = step;
      if (step !== null) this.push({ kind: "step", step });
    }
    let start = 0;
    const openIndex = this.open.get(stream);
    for (;;) {
      const nl = text.indexOf("\n", start);
      const piece = text.slice(start, nl < 0 ? text.length : nl);
      const isFirst = start === 0;
      if (isFirst && openIndex !== undefined) {
        const line = this.lines[openIndex] as TextLine;
        this.lines[openIndex] = { ...line, text: stripCr(line.text + piece, nl >= 0) };
        this.log.push(openIndex);
        if (nl >= 0) this.open.delete(stream);
      } else if (nl >= 0 || piece) {
        this.textLines += 1;
        const index = this.push({ kind: "text", number: this.textLines, step, stream, text: stripCr(piece, nl >= 0) });
        if (nl < 0) this.open.set(stream, index);
      }
      if (nl < 0) break;
      start = nl + 1;
      if (start === text.length) break;
    }
  }

  private push(line: OutputLine): number {
    const index = this.lines.length;
    this.lines.push(line);
    this.log.push(index);
    return index;
  }

  private changed(): void {
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      this.revision += 1;
      for (const listener of this.listeners) listener();
    });
  }
}

/** A finished line loses the `\r` of its `\r\n`. */
function stripCr(text: string, finished: boolean): string {
  return finished && text.endsWith("\r") ? text.slice(0, -1) : text;
}

export function stepHeading(step: number, name?: string): string {
  return name ? `Step ${step}: ${name}` : `Step ${step}`;
}
