// Bulk import of targets (POST /api/v1/targets/import/): JSON (a list shaped as POST targets/)
// or CSV with a header row. All or nothing on the server; `?dry_run=true` validates only.
import { ApiError, csrfToken, notify, type ApiErrorBody } from "../../api/client";

export type ImportFormat = "json" | "csv";

export interface RowProblem {
  /** 1-based, as the server counts rows (CSV: the header is not a row). */
  row: number;
  /** Reasons keyed by dotted field path (`connection_methods.0.host`). */
  fields: Record<string, string[]>;
}

export type ImportAnswer =
  | { kind: "valid"; rows: number }
  | { kind: "imported"; ids: string[] }
  | { kind: "refused"; message: string; problems: RowProblem[]; requestId?: string };

/** DRF's nested errors as dotted paths (as the API's own error shape does for `fields`). */
export function flattenErrors(detail: unknown, prefix = ""): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (path: string, messages: string[]) => {
    if (messages.length) (out[path || "non_field_errors"] ??= []).push(...messages);
  };
  if (Array.isArray(detail)) {
    if (detail.every((item) => typeof item !== "object" || item === null)) {
      add(prefix, detail.map(String));
    } else {
      detail.forEach((item, index) => {
        for (const [path, messages] of Object.entries(flattenErrors(item, prefix ? `${prefix}.${index}` : String(index)))) {
          add(path, messages);
        }
      });
    }
  } else if (detail && typeof detail === "object") {
    for (const [key, value] of Object.entries(detail)) {
      for (const [path, messages] of Object.entries(flattenErrors(value, prefix ? `${prefix}.${key}` : key))) {
        add(path, messages);
      }
    }
  } else if (detail != null) {
    add(prefix, [String(detail)]);
  }
  return out;
}

/** The format a text (or file name) is in: JSON starts with `[` or `{`. */
export function guessFormat(text: string, fileName?: string): ImportFormat {
  if (fileName?.toLowerCase().endsWith(".csv")) return "csv";
  if (fileName?.toLowerCase().endsWith(".json")) return "json";
  return /^\s*[[{]/.test(text) ? "json" : "csv";
}

/** One CSV record per line, with quoted cells ("a, b" and "" for a quote) spanning lines. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let quoted = false;
  const source = text.replace(/^\uFEFF/, "");
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (quoted) {
      if (char === '"' && source[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        cell += char;
      }
    } else if (char === '"') {
      quoted = true;
    } else if (char === ",") {
      record.push(cell);
      cell = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && source[i + 1] === "\n") i++;
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
    } else {
      cell += char;
    }
  }
  if (cell || record.length) {
    record.push(cell);
    records.push(record);
  }
  return records.filter((r) => r.some((c) => c.trim() !== ""));
}

export interface PreviewRow {
  row: number;
  name: string;
  address: string;
}

/** What each row is, as far as the browser can read it (the server decides validity). */
export function previewRows(text: string, format: ImportFormat): PreviewRow[] {
  if (format === "json") {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return [];
    }
    if (!Array.isArray(data)) return [];
    return data.map((item, index) => {
      const row = (item ?? {}) as { name?: unknown; connection_methods?: { host?: unknown; port?: unknown }[] };
      const method = Array.isArray(row.connection_methods) ? row.connection_methods[0] : undefined;
      return {
        row: index + 1,
        name: typeof row.name === "string" ? row.name : "",
        address: method?.host ? `${String(method.host)}${method.port ? `:${String(method.port)}` : ""}` : "",
      };
    });
  }
  const [header, ...records] = parseCsv(text);
  if (!header) return [];
  const column = (name: string) => header.findIndex((h) => h.trim() === name);
  const nameAt = column("name");
  const hostAt = column("host");
  const portAt = column("port");
  return records.map((record, index) => {
    const host = hostAt >= 0 ? (record[hostAt] ?? "").trim() : "";
    const port = portAt >= 0 ? (record[portAt] ?? "").trim() : "";
    return {
      row: index + 1,
      name: nameAt >= 0 ? (record[nameAt] ?? "").trim() : "",
      address: host ? `${host}${port ? `:${port}` : ""}` : "",
    };
  });
}

/** Sends the text as it is (the server parses it); a refused import comes back as its rows. */
export async function postImport(text: string, format: ImportFormat, dryRun: boolean): Promise<ImportAnswer> {
  let response: Response;
  try {
    response = await fetch(`/api/v1/targets/import/${dryRun ? "?dry_run=true" : ""}`, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: text,
    });
  } catch {
    notify(0, false);
    throw new ApiError(0, { code: "unreachable", message: "The server cannot be reached." });
  }
  notify(response.status, response.status < 500);
  let body: unknown = undefined;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.ok) {
    const data = (body ?? {}) as { valid_rows?: number; ids?: string[] };
    return dryRun ? { kind: "valid", rows: data.valid_rows ?? 0 } : { kind: "imported", ids: data.ids ?? [] };
  }
  const error = (body as { error?: ApiErrorBody & { rows?: { row: number; errors: unknown }[] } } | undefined)?.error;
  if (response.status === 400 && error?.rows) {
    return {
      kind: "refused",
      message: error.message,
      requestId: error.request_id,
      problems: error.rows.map((row) => ({ row: row.row, fields: flattenErrors(row.errors) })),
    };
  }
  const retry = Number(response.headers.get("Retry-After"));
  throw new ApiError(response.status, error, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

export const JSON_EXAMPLE = `[
  {
    "name": "web-01",
    "environment": "production",
    "tags": ["web", "nginx"],
    "labels": {"role": "frontend"},
    "connection_methods": [
      {"protocol": "ssh", "host": "10.0.0.11", "port": 22, "username": "deploy", "credential": "deploy-key"}
    ]
  }
]`;

export const CSV_EXAMPLE = `name,environment,os_family,tags,labels,protocol,host,port,username,credential
web-01,production,linux,web nginx,role=frontend;tier=1,ssh,10.0.0.11,22,deploy,deploy-key
win-01,staging,windows,iis,,winrm,10.0.0.21,5985,,`;
