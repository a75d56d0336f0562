// A line diff (Myers' O(ND) algorithm) and a readable YAML rendering of a definition to diff:
// multi-line scripts become block scalars so a changed script line shows as one changed line.

export type DiffKind = "same" | "added" | "removed";

export interface DiffLine {
  kind: DiffKind;
  text: string;
  /** 1-based line numbers in the old and the new text (undefined where the line is absent). */
  oldNumber?: number;
  newNumber?: number;
}

/** The lines of `before` and `after`, each marked same, added or removed (shortest edit). */
export function diffLines(before: string[], after: string[]): DiffLine[] {
  // common prefix and suffix first: most versions differ in a few lines
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start += 1;
  let endOld = before.length;
  let endNew = after.length;
  while (endOld > start && endNew > start && before[endOld - 1] === after[endNew - 1]) {
    endOld -= 1;
    endNew -= 1;
  }
  const a = before.slice(start, endOld);
  const b = after.slice(start, endNew);
  const middle = myers(a, b);

  const out: DiffLine[] = [];
  let oldNumber = 1;
  let newNumber = 1;
  const push = (kind: DiffKind, text: string) => {
    if (kind === "same") out.push({ kind, text, oldNumber: oldNumber++, newNumber: newNumber++ });
    else if (kind === "removed") out.push({ kind, text, oldNumber: oldNumber++ });
    else out.push({ kind, text, newNumber: newNumber++ });
  };
  for (let i = 0; i < start; i += 1) push("same", before[i]);
  for (const [kind, text] of middle) push(kind, text);
  for (let i = endOld; i < before.length; i += 1) push("same", before[i]);
  return out;
}

function myers(a: string[], b: string[]): [DiffKind, string][] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((text) => ["added", text]);
  if (m === 0) return a.map((text) => ["removed", text]);
  const max = n + m;
  const offset = max;
  let v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d += 1) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
    v = next;
  }
  // walk back through the trace from (n, m)
  const edits: [DiffKind, string][] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d -= 1) {
    const prev = trace[d];
    const k = x - y;
    const down = k === -d || (k !== d && prev[offset + k - 1] < prev[offset + k + 1]);
    const prevK = down ? k + 1 : k - 1;
    const prevX = prev[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push(["same", a[x - 1]]);
      x -= 1;
      y -= 1;
    }
    if (down) {
      edits.push(["added", b[y - 1]]);
      y -= 1;
    } else {
      edits.push(["removed", a[x - 1]]);
      x -= 1;
    }
  }
  while (x > 0 && y > 0) {
    edits.push(["same", a[x - 1]]);
    x -= 1;
    y -= 1;
  }
  return edits.reverse();
}

export interface Hunk {
  kind: "lines" | "skipped";
  lines: DiffLine[];
}

/** The diff with long runs of unchanged lines folded, keeping `context` lines around changes. */
export function hunks(lines: DiffLine[], context = 3): Hunk[] {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((line, index) => {
    if (line.kind === "same") return;
    for (let i = Math.max(0, index - context); i <= Math.min(lines.length - 1, index + context); i += 1) keep[i] = true;
  });
  const out: Hunk[] = [];
  lines.forEach((line, index) => {
    const kind = keep[index] ? "lines" : "skipped";
    const last = out[out.length - 1];
    if (last && last.kind === kind) last.lines.push(line);
    else out.push({ kind, lines: [line] });
  });
  return out;
}

// --- YAML ---------------------------------------------------------------------------------------

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ ./:@()-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  const text = String(value);
  if (text !== "" && PLAIN.test(text) && !RESERVED.test(text) && !text.endsWith(" ") && !text.includes(": ")) {
    return text;
  }
  return JSON.stringify(text); // a JSON string is a valid YAML double-quoted scalar
}

function key(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) ? name : JSON.stringify(name);
}

function isEmptyCollection(value: unknown): string | null {
  if (Array.isArray(value) && value.length === 0) return "[]";
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) return "{}";
  return null;
}

function emit(value: unknown, indent: string, lines: string[], prefix: string): void {
  const empty = isEmptyCollection(value);
  if (empty) {
    lines.push(`${prefix}${empty}`.trimEnd());
    return;
  }
  if (Array.isArray(value)) {
    if (prefix.trim()) lines.push(prefix.trimEnd());
    for (const item of value) {
      if (item && typeof item === "object" && !isEmptyCollection(item) && !Array.isArray(item)) {
        const entries = Object.entries(item as Record<string, unknown>);
        entries.forEach(([name, child], index) => {
          emitEntry(name, child, `${indent}  `, lines, index === 0 ? `${indent}- ` : `${indent}  `);
        });
      } else {
        emit(item, `${indent}  `, lines, `${indent}- `);
      }
    }
    return;
  }
  if (value && typeof value === "object") {
    if (prefix.trim()) lines.push(prefix.trimEnd());
    for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
      emitEntry(name, child, indent, lines, indent);
    }
    return;
  }
  if (typeof value === "string" && value.includes("\n")) {
    const body = value.endsWith("\n") ? value.slice(0, -1) : value;
    lines.push(`${prefix}|${value.endsWith("\n") ? "" : "-"}`);
    for (const line of body.split("\n")) lines.push(line ? `${indent}${line}` : "");
    return;
  }
  lines.push(`${prefix}${scalar(value)}`);
}

function emitEntry(name: string, child: unknown, indent: string, lines: string[], first: string): void {
  const head = `${first}${key(name)}: `;
  if (child && typeof child === "object" && !isEmptyCollection(child)) {
    lines.push(head.trimEnd());
    emit(child, `${indent}  `, lines, "");
  } else {
    emit(child, `${indent}  `, lines, head);
  }
}

/** `value` (JSON data) as block-style YAML lines, keys in their given order. */
export function toYaml(value: unknown): string[] {
  const lines: string[] = [];
  emit(value, "", lines, "");
  return lines;
}
