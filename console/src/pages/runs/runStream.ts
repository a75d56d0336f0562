// The live stream of a run (Server-Sent Events, GET /api/v1/runs/{id}/stream/): ONE EventSource
// per run page, whatever the widgets on it. Events are handed over in batches, once per
// animation frame, so a run printing thousands of lines a second re-renders the page at most
// at the screen's rate. After a drop the browser reconnects with Last-Event-ID (the server
// sends everything after it, nothing twice); when the browser gives up (the server answered
// an error, e.g. 502 while it restarts), a new EventSource resumes with ?after=<last id>.
import { useEffect, useLayoutEffect, useRef } from "react";
import { request } from "../../api/client";
import { useConnection } from "../../app/connection";

export interface OutputEvent {
  id: number;
  kind: "output";
  run_target_id: string;
  target: string;
  step: number | null;
  stream: "stdout" | "stderr" | "marker";
  text: string;
}

export interface StateEvent {
  id: number;
  kind: "state";
  type: "run" | "target" | "step" | "note";
  run_target_id?: string;
  target?: string;
  step?: number | null;
  status?: string;
  reason?: string;
  exit_code?: number | null;
  [key: string]: unknown;
}

export interface EndEvent {
  id: number;
  kind: "end";
  status: string;
}

export type RunStreamEvent = OutputEvent | StateEvent | EndEvent;

/** Parse one SSE message of the run stream; null for anything not understood. */
export function parseEvent(type: string, id: string, data: string): RunStreamEvent | null {
  const seq = Number(id);
  if (!Number.isInteger(seq)) return null;
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (type === "output") return { ...(payload as object), id: seq, kind: "output" } as OutputEvent;
  if (type === "state") return { ...(payload as object), id: seq, kind: "state" } as StateEvent;
  if (type === "end") return { id: seq, kind: "end", status: String(payload.status ?? "") };
  return null;
}

/** Keeps the events after the last one handed over, in order, each once. */
export class EventCursor {
  last: number;
  constructor(after = 0) {
    this.last = after;
  }
  accept(event: RunStreamEvent): boolean {
    if (event.kind === "end") return true; // the end carries the cursor, not a new number
    if (event.id <= this.last) return false;
    this.last = event.id;
    return true;
  }
}

export function useRunStream(
  runId: string,
  enabled: boolean,
  onEvents: (events: RunStreamEvent[]) => void,
): void {
  const handler = useRef(onEvents);
  useLayoutEffect(() => {
    handler.current = onEvents;
  });
  const { setStream } = useConnection();

  useEffect(() => {
    if (!enabled) return undefined;
    const cursor = new EventCursor();
    let source: EventSource | null = null;
    let pending: RunStreamEvent[] = [];
    let frame = 0;
    let retry = 0;
    let retryTimer = 0;
    let ended = false;

    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      if (batch.length) handler.current(batch);
    };
    const push = (event: RunStreamEvent | null) => {
      if (!event || !cursor.accept(event)) return;
      pending.push(event);
      if (event.kind === "end") {
        ended = true;
        source?.close();
        setStream("idle");
        window.cancelAnimationFrame(frame);
        flush();
        return;
      }
      // a hidden tab gets no animation frames: flush on a timer instead
      if (!frame) frame = document.hidden ? window.setTimeout(flush, 250) : window.requestAnimationFrame(flush);
    };
    const listen = (type: string) => (message: MessageEvent<string>) =>
      push(parseEvent(type, message.lastEventId, message.data));

    const open = () => {
      const url = `/api/v1/runs/${runId}/stream/${cursor.last ? `?after=${cursor.last}` : ""}`;
      source = new EventSource(url);
      source.addEventListener("output", listen("output"));
      source.addEventListener("state", listen("state"));
      source.addEventListener("end", listen("end"));
      source.onopen = () => {
        retry = 0;
        setStream("live");
      };
      source.onerror = () => {
        if (ended) return;
        setStream("reconnecting");
        if (source?.readyState === EventSource.CLOSED) {
          // the browser gave up: ask the API (a 401 ends the session, a 5xx shows the server
          // as lost) and open a new stream from the last event, backing off to 10 s
          source.close();
          const wait = Math.min(10_000, 1000 * 2 ** retry++);
          retryTimer = window.setTimeout(() => {
            request(`/api/v1/runs/${runId}/`)
              .catch(() => undefined)
              .finally(() => {
                if (!ended) open();
              });
          }, wait);
        }
      };
    };
    open();
    return () => {
      ended = true;
      source?.close();
      window.clearTimeout(retryTimer);
      window.cancelAnimationFrame(frame);
      window.clearTimeout(frame);
      setStream("idle");
    };
  }, [runId, enabled, setStream]);
}
