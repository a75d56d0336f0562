// The targets list's view in its URL: selector, search, health, pending host keys, sort, page and
// page size. A copied link opens the same view (the dashboard links to health filters); defaults
// are left out so links stay short.

export const PAGE_SIZES = [25, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 50;
export const SORTABLE = ["name", "environment", "status", "health_status", "created_at"] as const;
export type SortField = (typeof SORTABLE)[number];

export interface ListState {
  selector: string;
  search: string;
  /** any of these health statuses (the API's repeated `health_status`) */
  health: string[];
  /** only targets with a host key waiting for a decision */
  hostKeyPending: boolean;
  /** 1-based, as the API's `page` */
  page: number;
  pageSize: number;
  sort: SortField;
  descending: boolean;
}

export const DEFAULT_STATE: ListState = {
  selector: "",
  search: "",
  health: [],
  hostKeyPending: false,
  page: 1,
  pageSize: DEFAULT_PAGE_SIZE,
  sort: "name",
  descending: false,
};

export function readListState(params: URLSearchParams): ListState {
  const page = Number.parseInt(params.get("page") ?? "", 10);
  const size = Number.parseInt(params.get("page_size") ?? "", 10);
  const ordering = params.get("ordering") ?? "";
  const descending = ordering.startsWith("-");
  const field = (descending ? ordering.slice(1) : ordering) as SortField;
  const known = SORTABLE.includes(field);
  return {
    selector: params.get("selector") ?? "",
    search: params.get("search") ?? "",
    health: params.getAll("health_status").filter(Boolean),
    hostKeyPending: params.get("host_key_pending") === "true",
    page: Number.isFinite(page) && page >= 1 ? page : 1,
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
    sort: known ? field : DEFAULT_STATE.sort,
    descending: known ? descending : false,
  };
}

export function ordering(state: Pick<ListState, "sort" | "descending">): string {
  return `${state.descending ? "-" : ""}${state.sort}`;
}

/** The URL's query for a state (defaults omitted). */
export function writeListState(state: ListState): URLSearchParams {
  const params = new URLSearchParams();
  if (state.selector.trim()) params.set("selector", state.selector.trim());
  if (state.search.trim()) params.set("search", state.search.trim());
  state.health.forEach((health) => params.append("health_status", health));
  if (state.hostKeyPending) params.set("host_key_pending", "true");
  if (state.sort !== DEFAULT_STATE.sort || state.descending) params.set("ordering", ordering(state));
  if (state.pageSize !== DEFAULT_PAGE_SIZE) params.set("page_size", String(state.pageSize));
  if (state.page > 1) params.set("page", String(state.page));
  return params;
}

/** A change of filter, sort or page size starts again at page 1 (the old page may not exist). */
export function changeListState(state: ListState, change: Partial<ListState>): ListState {
  const next = { ...state, ...change };
  if (!("page" in change)) next.page = 1;
  return next;
}

/** Clicking a column's header: sort by it ascending, or flip the direction if it is the sort. */
export function toggleSort(state: ListState, field: SortField): ListState {
  return changeListState(state, {
    sort: field,
    descending: state.sort === field ? !state.descending : false,
  });
}
