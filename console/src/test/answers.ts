// Answers of the typed API client (openapi-fetch's shape) for unit tests that stub its methods.
import { vi } from "vitest";

export function answer(status: number, body: unknown) {
  const ok = status >= 200 && status < 300;
  return Promise.resolve({
    data: ok ? body : undefined,
    // openapi-fetch hands the parsed error body over and has read the response's body
    error: ok ? undefined : body,
    response: new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json" },
    }),
  });
}

export function validationError(fields: Record<string, string[]>, message = "Invalid input.") {
  return { error: { code: "validation_error", message, fields, request_id: "req-1" } };
}

/** A stub of `api.X` answering in turn (the last answer repeats). */
export function answers(...list: (() => ReturnType<typeof answer>)[]) {
  let index = 0;
  return vi.fn(() => list[Math.min(index++, list.length - 1)]());
}
