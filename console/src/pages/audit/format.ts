// How an audit record's who and what read in the console.
import type { components } from "../../api/client";

export type AuditRecord = components["schemas"]["AuditRecord"];

export interface Actor {
  kind: string;
  id: string | null;
  name: string;
}

export interface AuditObject {
  type: string;
  id: string;
  name: string;
}

export function actorOf(record: Pick<AuditRecord, "actor">): Actor {
  const actor = record.actor as Partial<Actor>;
  return { kind: actor.kind ?? "", id: actor.id ?? null, name: actor.name ?? "" };
}

export function objectOf(record: Pick<AuditRecord, "object">): AuditObject {
  const object = record.object as Partial<AuditObject>;
  return { type: object.type ?? "", id: object.id ?? "", name: object.name ?? "" };
}

export function actorLabel(actor: Actor): string {
  if (actor.kind === "system") return "system";
  return actor.name || actor.id || actor.kind || "—";
}

export function objectLabel(object: AuditObject): string {
  if (!object.type && !object.name && !object.id) return "—";
  return `${object.type}${object.type ? ": " : ""}${object.name || object.id}`;
}

const GOOD = new Set(["success", "succeeded", "passed"]);
const BAD = new Set(["failure", "failed", "denied", "timed_out", "unreachable", "lost"]);

export function outcomeTone(outcome: string): "success" | "error" | "default" {
  if (GOOD.has(outcome)) return "success";
  if (BAD.has(outcome)) return "error";
  return "default";
}
