// What the live events change in the run page's cached queries: target rows updated in place
// at once; counts, summary and lists (whose membership a state change may alter) refetched, at
// most once a second.
import type { QueryClient } from "@tanstack/react-query";
import type { components } from "../../api/client";
import type { RunStreamEvent } from "./runStream";

export type RunTarget = components["schemas"]["RunTarget"];
export type Run = components["schemas"]["Run"];
export type RunTargetPage = components["schemas"]["PaginatedRunTargetList"];

export interface SummaryGroup {
  status: string;
  exit_code: number | null;
  count: number;
  reason: string;
  output_sample: string;
  same_output: boolean;
  targets: string[];
  more_targets: number;
  description: string;
}

export interface RunSummary {
  total: number;
  counts: Record<string, number>;
  groups: SummaryGroup[];
  more_groups: number;
}

export type RunDetail = Run & { summary: RunSummary };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const runKey = (id: string) => ["runs", id] as const;
export const runTargetsKey = (id: string) => ["runs", id, "targets"] as const;

/** Apply target and step state changes to every cached page of the run's targets. */
export function applyStates(client: QueryClient, runId: string, events: RunStreamEvent[]): boolean {
  const changes = new Map<string, Partial<Mutable<RunTarget>>>();
  let runChanged = false;
  for (const event of events) {
    if (event.kind === "end") runChanged = true;
    if (event.kind !== "state") continue;
    if (event.type === "run") runChanged = true;
    if (event.type === "target" && event.run_target_id && event.status) {
      const change: Partial<Mutable<RunTarget>> = { ...changes.get(event.run_target_id), status: event.status as RunTarget["status"] };
      if (typeof event.reason === "string") change.reason = event.reason;
      if (typeof event.exit_code === "number") change.exit_code = event.exit_code;
      changes.set(event.run_target_id, change);
    }
  }
  if (changes.size) {
    // the pages of the grid, and the one target shown in the panel
    client.setQueriesData<RunTargetPage | RunTarget>({ queryKey: runTargetsKey(runId) }, (data) => {
      if (!data) return data;
      if ("results" in data && Array.isArray(data.results)) {
        return { ...data, results: data.results.map((row) => (changes.has(row.id) ? { ...row, ...changes.get(row.id) } : row)) };
      }
      if ("id" in data && changes.has(data.id)) return { ...data, ...changes.get(data.id) } as RunTarget;
      return data;
    });
  }
  return runChanged || changes.size > 0 || events.some((event) => event.kind === "state");
}

/** Run `fn` at most once per `ms`, the last call always honoured. */
export function throttle(fn: () => void, ms: number): { call: () => void; cancel: () => void } {
  let timer = 0;
  let last = 0;
  return {
    call() {
      if (timer) return;
      const wait = Math.max(0, last + ms - Date.now());
      timer = window.setTimeout(() => {
        timer = 0;
        last = Date.now();
        fn();
      }, wait);
    },
    cancel() {
      window.clearTimeout(timer);
      timer = 0;
    },
  };
}
