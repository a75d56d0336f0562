// The targets pages' reads and writes, typed from the API's schema.
import type { components } from "../../api/client";

/** A target as the API returns it: tags and labels are written as lists/dicts and read back
 * (the schema marks them write-only). */
export type TargetRow = components["schemas"]["Target"] & {
  tags?: string[];
  labels?: Record<string, string>;
};
export type HealthCheck = components["schemas"]["HealthCheck"];
export type HostKey = components["schemas"]["HostKey"];
export type ConnectionMethod = components["schemas"]["ConnectionMethod"];

export interface Paged<T> {
  count: number;
  next?: string | null;
  previous?: string | null;
  results: T[];
}

/** The address an operator knows a target by: its primary (or first) method's host and port. */
export function addressOf(target: Pick<TargetRow, "connection_methods">): string {
  const methods = target.connection_methods ?? [];
  const method = methods.find((m) => m.is_primary) ?? methods[0];
  if (!method) return "";
  const defaultPort = method.protocol === "ssh" ? 22 : undefined;
  return method.port && method.port !== defaultPort ? `${method.host}:${method.port}` : method.host;
}

export const TARGETS_KEY = ["targets"] as const;
