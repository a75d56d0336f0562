// The jobs API as the pages use it: queries keyed under ["jobs", ...] and the writes, each
// refreshing what it changed.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, request, unwrap } from "../../api/client";
import type { Definition, Job } from "./model";

export interface JobListFilters {
  search?: string;
  archived?: boolean;
  label?: string;
  owner?: string;
  ordering?: string;
  page: number;
  page_size: number;
}

export interface Person {
  id: string | null;
  name: string;
}

export interface VersionSummary {
  number: number;
  message: string;
  diff: Record<string, unknown>;
  created_at: string;
  created_by: Person;
}

export interface VersionDetail extends VersionSummary {
  definition: Definition;
}

export interface PlanTarget {
  id: string;
  name: string;
  os_family: string;
}

export interface PlannedStep {
  name: string;
  kind: string;
  skipped: boolean;
  reason?: string;
  command?: string;
  interpreter?: string;
  script?: string;
  path?: string;
  mode?: string;
  content?: string;
  env?: Record<string, string>;
  workdir?: string;
  timeout_seconds?: number;
  continue_on_error?: boolean;
}

export interface Plan {
  job_id: string;
  version: number;
  selector: string;
  target_count: number;
  targets: PlanTarget[];
  plan: Record<string, PlannedStep[]>;
  problems: { field: string; message: string }[];
  valid: boolean;
}

export const jobKeys = {
  all: ["jobs"] as const,
  list: (filters: JobListFilters) => ["jobs", "list", filters] as const,
  one: (id: string) => ["jobs", "one", id] as const,
  versions: (id: string, page: number) => ["jobs", "one", id, "versions", page] as const,
  version: (id: string, number: number) => ["jobs", "one", id, "version", number] as const,
};

export function useJobs(filters: JobListFilters) {
  return useQuery({
    queryKey: jobKeys.list(filters),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/jobs/", {
          params: {
            query: {
              search: filters.search || undefined,
              archived: filters.archived,
              label: filters.label || undefined,
              owner: filters.owner || undefined,
              ordering: filters.ordering || undefined,
              page: filters.page,
              page_size: filters.page_size,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useJob(id: string) {
  return useQuery({
    queryKey: jobKeys.one(id),
    queryFn: () => unwrap(api.GET("/api/v1/jobs/{id}/", { params: { path: { id } } })),
  });
}

export function useVersions(id: string, page: number, pageSize: number) {
  return useQuery({
    queryKey: [...jobKeys.versions(id, page), pageSize],
    queryFn: async () => {
      const data = await unwrap(
        api.GET("/api/v1/jobs/{id}/versions/", { params: { path: { id }, query: { page, page_size: pageSize } } }),
      );
      return data as unknown as { count: number; results: VersionSummary[] };
    },
    placeholderData: keepPreviousData,
  });
}

export function useVersion(id: string, number: number | null) {
  return useQuery({
    queryKey: jobKeys.version(id, number ?? 0),
    enabled: number !== null && number > 0,
    staleTime: Infinity, // a version never changes
    queryFn: async () =>
      (await unwrap(
        api.GET("/api/v1/jobs/{id}/versions/{number}/", { params: { path: { id, number: String(number) } } }),
      )) as unknown as VersionDetail,
  });
}

function changeHeaders(message: string | undefined): Record<string, string> {
  return message ? { "X-Change-Message": message.replace(/[\r\n]+/g, " ").slice(0, 500) } : {};
}

/** Create (no id) or replace (id) a job's definition: a new version when anything changed. */
export function useSaveJob(id: string | undefined) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ body, message }: { body: Record<string, unknown>; message?: string }) => {
      const headers = changeHeaders(message);
      if (id) return unwrap(api.PUT("/api/v1/jobs/{id}/", { params: { path: { id } }, body, headers }));
      return unwrap(api.POST("/api/v1/jobs/", { body, headers }));
    },
    onSuccess: (job) => {
      client.invalidateQueries({ queryKey: jobKeys.all });
      client.setQueryData(jobKeys.one(job.id), job);
    },
  });
}

/** Archive, unarchive, clone, revert, delete: one job, then everything about jobs refreshed. */
export function useJobAction(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (
      action:
        | { kind: "archive" }
        | { kind: "unarchive" }
        | { kind: "clone"; name: string }
        | { kind: "revert"; version: number }
        | { kind: "delete" },
    ): Promise<Job | null> => {
      const path = { path: { id } };
      switch (action.kind) {
        case "archive":
          return unwrap(api.POST("/api/v1/jobs/{id}/archive/", { params: path }));
        case "unarchive":
          return unwrap(api.POST("/api/v1/jobs/{id}/unarchive/", { params: path }));
        case "clone":
          return unwrap(api.POST("/api/v1/jobs/{id}/clone/", { params: path, body: { name: action.name } }));
        case "revert":
          return unwrap(api.POST("/api/v1/jobs/{id}/revert/", { params: path, body: { version: action.version } }));
        case "delete":
          await unwrap(api.DELETE("/api/v1/jobs/{id}/", { params: path }));
          return null;
      }
    },
    onSuccess: () => client.invalidateQueries({ queryKey: jobKeys.all }),
  });
}

export function usePlan(id: string) {
  return useMutation({
    mutationFn: async (body: { parameters: Record<string, unknown>; selector?: string }) =>
      (await unwrap(
        api.POST("/api/v1/jobs/{id}/validate/", { params: { path: { id } }, body: body as never }),
      )) as unknown as Plan,
  });
}

/** Import a definition given as text (JSON when it looks like JSON, YAML otherwise). */
export function useImportJob() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (text: string): Promise<Job> => {
      const json = /^\s*[{[]/.test(text);
      const response = await request("/api/v1/jobs/import/", {
        method: "POST",
        headers: { "Content-Type": json ? "application/json" : "application/yaml", Accept: "application/json" },
        body: text,
      });
      return (await response.json()) as Job;
    },
    onSuccess: () => client.invalidateQueries({ queryKey: jobKeys.all }),
  });
}
