// An audit record's `changes` as rows of a diff. Two shapes are recorded (apps/audit/describe.py):
// `{field: {"from": a, "to": b}}` (most events), and a job version's diff, where `steps` and
// `parameters` are sections `{added: [names], removed: [names], changed: {name: {field:
// {from, to}}}, reordered: {from, to}}` and `{created: true}` marks a first version.
// Secrets were masked by the server before they were recorded: "********" stays "********".

export type DiffKind = "changed" | "added" | "removed" | "note";

export interface DiffRow {
  /** dotted: `username`, `steps.deploy.command` */
  path: string;
  kind: DiffKind;
  before?: unknown;
  after?: unknown;
  /** for "note" rows: what happened, in words */
  note?: string;
}

export const MASK = "********";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isChange(value: unknown): value is { from: unknown; to: unknown } {
  return isObject(value) && "from" in value && "to" in value && Object.keys(value).every((key) => key === "from" || key === "to");
}

function isSection(value: unknown): value is { added?: unknown; removed?: unknown; changed?: unknown; reordered?: unknown } {
  return isObject(value) && ["added", "removed", "changed"].some((key) => key in value) && Object.keys(value).every((key) => ["added", "removed", "changed", "reordered"].includes(key));
}

const empty = (value: unknown) => value === null || value === undefined || value === "";

function walk(value: unknown, path: string, rows: DiffRow[]) {
  if (isChange(value)) {
    const kind: DiffKind = empty(value.from) && !empty(value.to) ? "added" : !empty(value.from) && empty(value.to) ? "removed" : "changed";
    rows.push({ path, kind, before: value.from, after: value.to });
    return;
  }
  if (isSection(value)) {
    for (const name of Array.isArray(value.added) ? value.added : []) rows.push({ path: `${path}.${String(name)}`, kind: "added", note: "added" });
    for (const name of Array.isArray(value.removed) ? value.removed : []) rows.push({ path: `${path}.${String(name)}`, kind: "removed", note: "removed" });
    if (isObject(value.changed)) {
      for (const [name, fields] of Object.entries(value.changed)) walk(fields, `${path}.${name}`, rows);
    }
    if (isChange(value.reordered)) rows.push({ path: `${path} (order)`, kind: "changed", before: value.reordered.from, after: value.reordered.to });
    return;
  }
  if (isObject(value)) {
    for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key, rows);
    return;
  }
  if (path === "created" && value === true) {
    rows.push({ path: "", kind: "note", note: "First version: everything is new." });
    return;
  }
  // a bare value (not a from/to pair): what it was set to
  rows.push({ path, kind: "note", after: value, note: "set" });
}

/** The rows of a record's `changes`, in the order recorded. */
export function diffRows(changes: unknown): DiffRow[] {
  const rows: DiffRow[] = [];
  if (isObject(changes)) walk(changes, "", rows);
  return rows;
}

/** A value as one line of text: "—" for nothing, JSON for lists and objects, secrets as
 * recorded (masked). */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (value === "") return "(empty)";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function isMasked(value: unknown): boolean {
  return typeof value === "string" && value.startsWith(MASK);
}
