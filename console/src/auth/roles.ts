// The product's role model (docs/adr/0005-role-model.md), as the console gates its buttons.
// The server stays the authority: a 403 is still shown as a message.
import type { components } from "../api/client";

export type Me = components["schemas"]["Me"];
export type Role = "viewer" | "operator" | "manager" | "admin";

const RANK: Record<Role, number> = { viewer: 0, operator: 1, manager: 2, admin: 3 };

export function hasRole(me: Pick<Me, "role"> | null | undefined, minimum: Role): boolean {
  if (!me) return false;
  return RANK[me.role as Role] >= RANK[minimum];
}

/** What each action needs, and the reason shown on a button the role may not use. */
export const ACTIONS = {
  launch: { role: "operator", reason: "Launching jobs needs the operator role or above." },
  cancel: { role: "operator", reason: "Canceling runs needs the operator role or above." },
  retry: { role: "operator", reason: "Retrying runs needs the operator role or above." },
  editTargets: { role: "manager", reason: "Changing targets needs the manager role or above." },
  importTargets: { role: "manager", reason: "Importing targets needs the manager role or above." },
  editGroups: { role: "manager", reason: "Changing groups needs the manager role or above." },
  healthCheck: { role: "operator", reason: "Health checks need the operator role or above." },
  trustKeys: { role: "admin", reason: "Approving or rejecting host keys is for admins only." },
  scanHostKeys: { role: "manager", reason: "Scanning host keys needs the manager role or above." },
  editJobs: { role: "manager", reason: "Changing jobs needs the manager role or above." },
  planJobs: { role: "operator", reason: "Planning a run needs the operator role or above." },
  credentials: { role: "admin", reason: "Credentials are for admins only." },
  people: { role: "admin", reason: "Managing users and their roles is for admins only." },
  editAlerts: { role: "manager", reason: "Changing alert channels and rules needs the manager role or above." },
  testChannels: { role: "manager", reason: "Sending a test notice needs the manager role or above." },
  bridgeRoutes: { role: "admin", reason: "Changing the legacy bridge's routes is for admins only." },
  verifyAudit: { role: "admin", reason: "Running the verification is for admins only." },
  editSchedules: { role: "manager", reason: "Changing schedules needs the manager role or above." },
} as const satisfies Record<string, { role: Role; reason: string }>;

export type Action = keyof typeof ACTIONS;

export function can(me: Pick<Me, "role"> | null | undefined, action: Action): boolean {
  return hasRole(me, ACTIONS[action].role);
}

/** Reading the audit trail: admins, and users of any role with the auditor capability
 * (opsconductor.roles.can_read_audit). */
export const AUDIT_REASON = "Reading the audit trail needs the auditor capability (or the admin role).";

export function canReadAudit(me: Pick<Me, "role" | "is_auditor"> | null | undefined): boolean {
  return hasRole(me, "admin") || Boolean(me?.is_auditor);
}
