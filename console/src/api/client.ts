// The console's one way to the API: typed from the server's OpenAPI schema (schema.d.ts, made by
// `npm run api` from openapi.json, which `manage.py spectacular` writes). Same origin: the
// session cookie authenticates, and every write carries the CSRF token. No token is ever kept
// by the page.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";

export type { paths, components } from "./schema";

/** The API's error shape: `{"error": {"code", "message", "fields", "request_id"}}`. */
export interface ApiErrorBody {
  code: string;
  message: string;
  fields?: Record<string, string[]>;
  request_id?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string[]>;
  readonly requestId?: string;
  readonly retryAfter?: number;

  constructor(status: number, body: ApiErrorBody | undefined, retryAfter?: number) {
    super(body?.message || `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.code ?? (status === 0 ? "unreachable" : "error");
    this.fields = body?.fields ?? {};
    this.requestId = body?.request_id;
    this.retryAfter = retryAfter;
  }

  /** The field errors under a dotted path (`steps.1.command`), and below it. */
  fieldErrors(path: string): string[] {
    return this.fields[path] ?? [];
  }
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

type Listener = (event: { status: number; ok: boolean }) => void;
const listeners = new Set<Listener>();

/** Called after every answer (or failure to reach the server): the shell's connection state
 * and the session's end (401) follow it. */
export function onApiResponse(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function notify(status: number, ok: boolean) {
  listeners.forEach((listener) => listener({ status, ok }));
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const session: Middleware = {
  onRequest({ request }) {
    if (UNSAFE.has(request.method)) request.headers.set("X-CSRFToken", csrfToken());
    request.headers.set("Accept", "application/json");
    return request;
  },
  onResponse({ response }) {
    notify(response.status, response.status < 500);
    return response;
  },
  onError() {
    notify(0, false);
    return undefined;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(session);

async function errorOf(response: Response, parsed?: unknown): Promise<ApiError> {
  // openapi-fetch has already read the body of a failed answer (its `error`): use that
  let body = (parsed as { error?: ApiErrorBody } | undefined)?.error;
  if (!body && !response.bodyUsed) {
    try {
      body = ((await response.clone().json()) as { error?: ApiErrorBody }).error;
    } catch {
      body = undefined;
    }
  }
  const retry = Number(response.headers.get("Retry-After"));
  return new ApiError(response.status, body, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

/** The data of an answer, or an ApiError carrying the API's message and field errors. */
export async function unwrap<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await promise;
  } catch (exc) {
    if (exc instanceof ApiError) throw exc;
    throw new ApiError(0, { code: "unreachable", message: "The server cannot be reached." });
  }
  if (!result.response.ok) throw await errorOf(result.response, result.error);
  return result.data as T;
}

/** A request outside the schema's typed paths (downloads, exports): same session and CSRF. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (UNSAFE.has((init.method ?? "GET").toUpperCase())) headers.set("X-CSRFToken", csrfToken());
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  } catch {
    notify(0, false);
    throw new ApiError(0, { code: "unreachable", message: "The server cannot be reached." });
  }
  notify(response.status, response.status < 500);
  if (!response.ok) throw await errorOf(response);
  return response;
}
