// The migration page's arithmetic: how much of the legacy URL space's traffic is still proxied to
// the old system, which adapters can answer a prefix, and what a flip changes, in words.
import type { components } from "../../api/client";

export type Route = components["schemas"]["Route"];
export type Adapter = components["schemas"]["Adapter"];
export type ImportRun = components["schemas"]["ImportRun"];
export type ImportRunDetail = components["schemas"]["ImportRunDetail"];
export type Mode = "proxy" | "migrated" | "retired";

export const MODES: { value: Mode; label: string; meaning: string }[] = [
  { value: "proxy", label: "Proxy", meaning: "forwarded to the legacy backend" },
  { value: "migrated", label: "Migrated", meaning: "served by the new system" },
  { value: "retired", label: "Retired", meaning: "answered 410 Gone" },
];

export function modeLabel(mode: string | null | undefined): string {
  return MODES.find((item) => item.value === mode)?.label ?? "No rule";
}

export interface Share {
  total: number;
  byMode: Record<Mode | "none", number>;
  /** percent of the requests still forwarded to the legacy backend (0 when there were none) */
  proxiedPercent: number;
}

/** The period's requests by the mode their prefix has now. */
export function trafficShare(routes: Route[], period: "last_day" | "last_week"): Share {
  const byMode: Share["byMode"] = { proxy: 0, migrated: 0, retired: 0, none: 0 };
  for (const route of routes) {
    const key = (route.mode as Mode | null) ?? "none";
    byMode[key] += route[period].total;
  }
  const total = byMode.proxy + byMode.migrated + byMode.retired + byMode.none;
  return { total, byMode, proxiedPercent: total > 0 ? Math.round((byMode.proxy / total) * 1000) / 10 : 0 };
}

/** Adapters whose area lies at or below the prefix (those may take over some or all of it). */
export function adaptersFor(prefix: string, adapters: Adapter[]): Adapter[] {
  return adapters.filter((adapter) => adapter.root && (adapter.root === prefix || adapter.root.startsWith(`${prefix}/`)));
}

/** Adapters a migrated route of exactly this prefix may name: the area rooted there, and the
 * adapters that may serve any prefix. */
export function adaptersToName(prefix: string, adapters: Adapter[]): Adapter[] {
  return adapters.filter((adapter) => !adapter.root || adapter.root === prefix);
}

export interface Flip {
  mode: Mode;
  adapter: string;
  newUrl: string;
  message: string;
}

/** What a flip changes, as the confirmation says it. */
export function describeFlip(route: Route, flip: Flip): string[] {
  const from = route.mode ? `${modeLabel(route.mode).toLowerCase()}` : "no rule";
  const lines = [`${route.prefix}: ${from} → ${modeLabel(flip.mode).toLowerCase()}.`];
  if (flip.mode === "proxy") lines.push("Its requests are forwarded to the legacy backend.");
  if (flip.mode === "migrated") {
    lines.push(
      flip.adapter
        ? `Its requests are answered by the new system through the adapter ${flip.adapter}, in the legacy shape; the legacy backend no longer sees them.`
        : `Callers are told it moved to ${flip.newUrl || "(no endpoint given)"}; the legacy backend no longer sees them.`,
    );
  }
  if (flip.mode === "retired") lines.push(`Its requests are answered 410 Gone${flip.message ? ` ("${flip.message}")` : ""}; nothing reaches the legacy backend.`);
  if (!route.id) lines.push("Its rule comes from the settings: the flip adds a route that overrides it.");
  if (route.last_day.total > 0) lines.push(`It had ${route.last_day.total.toLocaleString()} requests in the last 24 hours.`);
  lines.push("It applies to the next request in every web process and is recorded in the audit trail.");
  return lines;
}

/** The body of the request that makes the flip (a new route for a prefix without a row). */
export function flipBody(route: Route, flip: Flip): { prefix: string; mode: Mode; adapter: string; new_url: string; message: string } {
  return {
    prefix: route.prefix,
    mode: flip.mode,
    adapter: flip.mode === "migrated" ? flip.adapter : "",
    new_url: flip.mode === "migrated" ? flip.newUrl.trim() : "",
    message: flip.message.trim(),
  };
}
