// The audit search's state: every filter of GET /api/v1/audit/events/ (apps/audit/http/
// filters.py), the cursor and the page size, all in the page's URL. Pure functions (tested).

/** Every filter the API takes, by its API name (which is also its URL name here). */
export const FILTER_KEYS = [
  "q",
  "actor",
  "actor_id",
  "actor_kind",
  "action",
  "action_prefix",
  "object",
  "object_type",
  "object_id",
  "outcome",
  "source_ip",
  "request_id",
  "since",
  "until",
] as const;

export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string>>;

export const PAGE_SIZES = [25, 50, 100, 200];
export const DEFAULT_PAGE_SIZE = 50;

/** Plain words for the chips of active filters. */
export const FILTER_LABELS: Record<FilterKey, string> = {
  q: "Text",
  actor: "Actor",
  actor_id: "Actor id",
  actor_kind: "Actor kind",
  action: "Action",
  action_prefix: "Action starts with",
  object: "Object",
  object_type: "Object type",
  object_id: "Object id",
  outcome: "Outcome",
  source_ip: "Address",
  request_id: "Request id",
  since: "From",
  until: "Until",
};

export const ACTOR_KINDS = ["user", "token", "schedule", "system", "anonymous"];
export const OUTCOMES = ["success", "failure", "denied", "missed", "succeeded", "failed", "canceled", "timed_out", "passed"];

export function filtersFromParams(params: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key)?.trim();
    if (value) filters[key] = value;
  }
  return filters;
}

export function hasFilters(filters: Filters): boolean {
  return Object.keys(filters).length > 0;
}

export function pageSizeFromParams(params: URLSearchParams): number {
  const size = Number(params.get("page_size"));
  return PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE;
}

/** The URL after changing filters: a changed filter starts again at the newest page (a cursor
 * belongs to the query that made it). `null` or "" removes a filter. */
export function withFilters(params: URLSearchParams, changes: Partial<Record<FilterKey | "page_size", string | null>>): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value) next.set(key, value);
    else next.delete(key);
  }
  next.delete("cursor");
  return next;
}

/** The URL of another page of the same query. */
export function withCursor(params: URLSearchParams, cursor: string | null): URLSearchParams {
  const next = new URLSearchParams(params);
  if (cursor) next.set("cursor", cursor);
  else next.delete("cursor");
  return next;
}

/** Only the filters, for the API (and for the export). */
export function filterQuery(filters: Filters): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key];
    if (value) query.set(key, value);
  }
  return query;
}

/** The cursor of a page's `next` or `previous` link (the API's own, opaque). */
export function cursorOf(link: string | null | undefined): string | null {
  if (!link) return null;
  try {
    return new URL(link, "http://localhost").searchParams.get("cursor");
  } catch {
    return null;
  }
}

/** The streamed export of everything the filters match (a plain same-origin link: the session
 * cookie goes with it, and the file goes straight to disk whatever its size). */
export function exportHref(filters: Filters, kind: "csv" | "jsonl"): string {
  const query = filterQuery(filters);
  query.set("as", kind);
  return `/api/v1/audit/events/export/?${query.toString()}`;
}

/** `datetime-local` value (the viewer's zone) <-> ISO (UTC) in the URL. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): string {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

// -- the compliance report's period -----------------------------------------------------------

export const PERIODS = [
  { value: "24h", label: "Last 24 hours", hours: 24 },
  { value: "7d", label: "Last 7 days", hours: 24 * 7 },
  { value: "30d", label: "Last 30 days", hours: 24 * 30 },
  { value: "custom", label: "Custom", hours: 0 },
] as const;

export type Period = (typeof PERIODS)[number]["value"];

/** The report's range from the URL: a named period ending now, or `since`..`until`. An invalid
 * or reversed custom range is returned as such: the server says what is wrong with it. */
export function reportRange(params: URLSearchParams, now: Date = new Date()): { period: Period; since: string; until: string } {
  const named = PERIODS.find((item) => item.value === params.get("period"));
  const period: Period = named ? named.value : params.get("since") || params.get("until") ? "custom" : "24h";
  if (period === "custom") {
    return { period, since: params.get("since") ?? "", until: params.get("until") ?? "" };
  }
  const hours = PERIODS.find((item) => item.value === period)!.hours;
  // whole minutes: the same range (and the same cached answer) for a minute
  const end = new Date(Math.ceil(now.getTime() / 60_000) * 60_000);
  return { period, since: new Date(end.getTime() - hours * 3_600_000).toISOString(), until: end.toISOString() };
}
