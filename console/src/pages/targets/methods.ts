// A target's connection methods as the form edits them, and what the API is sent for them.
import type { components } from "../../api/client";

export type ConnectionMethod = components["schemas"]["ConnectionMethod"];
export type MethodRequest = components["schemas"]["ConnectionMethodRequest"];
export type Protocol = components["schemas"]["ProtocolEnum"];

export interface MethodDraft {
  /** Local identity of the row. */
  rowId: number;
  /** The server's id once the method exists. */
  id?: string;
  protocol: Protocol;
  host: string;
  /** Text as typed; empty: the protocol's default port. */
  port: string;
  username: string;
  /** A credential's name or id; empty: none. */
  credential: string;
  priority: string;
  is_primary: boolean;
  winrm_scheme: "http" | "https";
  winrm_transport: "ntlm" | "basic" | "kerberos" | "credssp";
  winrm_validate_cert: boolean;
}

export const DEFAULT_PORTS: Record<Protocol, (draft: Pick<MethodDraft, "winrm_scheme">) => number> = {
  ssh: () => 22,
  winrm: (draft) => (draft.winrm_scheme === "https" ? 5986 : 5985),
};

let nextRowId = 1;

export function newMethod(protocol: Protocol = "ssh", primary = false): MethodDraft {
  return {
    rowId: nextRowId++,
    protocol,
    host: "",
    port: "",
    username: "",
    credential: "",
    priority: "0",
    is_primary: primary,
    winrm_scheme: "http",
    winrm_transport: "ntlm",
    winrm_validate_cert: true,
  };
}

function credentialText(value: ConnectionMethod["credential"]): string {
  if (!value) return "";
  if (typeof value === "string") return value;
  return value.name ?? value.id ?? "";
}

export function methodDraft(method: ConnectionMethod): MethodDraft {
  return {
    rowId: nextRowId++,
    id: method.id,
    protocol: method.protocol,
    host: method.host,
    port: method.port == null ? "" : String(method.port),
    username: method.username ?? "",
    credential: credentialText(method.credential),
    priority: String(method.priority ?? 0),
    is_primary: Boolean(method.is_primary),
    winrm_scheme: method.winrm_scheme === "https" ? "https" : "http",
    winrm_transport: (method.winrm_transport || "ntlm") as MethodDraft["winrm_transport"],
    winrm_validate_cert: method.winrm_validate_cert ?? true,
  };
}

/** The full request body of a draft (as for a new method). */
export function methodBody(draft: MethodDraft): MethodRequest {
  const body: MethodRequest = {
    protocol: draft.protocol,
    host: draft.host.trim(),
    username: draft.username.trim(),
    credential: draft.credential.trim() || null,
    priority: Number(draft.priority) || 0,
    is_primary: draft.is_primary,
  };
  const port = draft.port.trim();
  if (port) body.port = Number(port);
  if (draft.protocol === "winrm") {
    body.winrm_scheme = draft.winrm_scheme;
    body.winrm_transport = draft.winrm_transport;
    body.winrm_validate_cert = draft.winrm_validate_cert;
  } else {
    body.winrm_scheme = "";
    body.winrm_transport = "";
  }
  return body;
}

/** Only what changed from the method on the server (a credential left alone is not re-sent:
 * re-attaching it would be checked against its scope again). Empty: nothing to do. */
export function methodChanges(draft: MethodDraft, saved: ConnectionMethod): Partial<MethodRequest> {
  const before = methodBody(methodDraft(saved));
  const after = methodBody(draft);
  if (!draft.port.trim()) after.port = saved.port; // an empty port keeps the one it has
  const changes: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof MethodRequest)[]) {
    if (after[key] !== before[key]) changes[key] = after[key];
  }
  return changes as Partial<MethodRequest>;
}

/** Problems the browser can tell before asking the server, keyed like the API's
 * (`connection_methods.<index>.<field>`). */
export function checkMethods(drafts: MethodDraft[]): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  drafts.forEach((draft, index) => {
    const at = (field: string, message: string) => {
      errors[`connection_methods.${index}.${field}`] = [message];
    };
    if (!draft.host.trim()) at("host", "Enter the host name or IP address to connect to.");
    const port = draft.port.trim();
    if (port && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
      at("port", "A port is a number from 1 to 65535.");
    }
    if (!/^\d+$/.test(draft.priority.trim() || "0")) at("priority", "A priority is a whole number (lower is tried first).");
  });
  return errors;
}
