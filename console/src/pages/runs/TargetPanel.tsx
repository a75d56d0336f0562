// One target of a run: its steps and its output, the history read from the API page by page,
// then what the run's stream brings (each chunk once: by its log number).
import { IconButton, Paper, Stack, Table, TableBody, TableCell, TableHead, TableRow, Tooltip, Typography } from "@mui/material";
import Close from "@mui/icons-material/Close";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { OutputView, useOutputBuffer } from "../../components/output";
import { StatusChip, TERMINAL_TARGET } from "../../components/StatusChip";
import { formatDuration } from "../../lib/format";
import { throttle, type RunTarget } from "./runCache";
import type { OutputEvent } from "./runStream";

export interface Chunk {
  seq: number;
  step: number | null;
  stream: string;
  text: string;
}

type Listener = (events: OutputEvent[]) => void;

/** Hands the stream's output events to the panel showing their target, and tells it when its
 * target's or its steps' states changed (it then reads them again: no polling). */
export class OutputBus {
  private listeners = new Map<string, Set<Listener>>();
  private watchers = new Map<string, Set<() => void>>();
  watch(runTargetId: string, watcher: () => void): () => void {
    const set = this.watchers.get(runTargetId) ?? new Set();
    set.add(watcher);
    this.watchers.set(runTargetId, set);
    return () => set.delete(watcher);
  }
  changed(runTargetIds: Iterable<string>) {
    for (const id of new Set(runTargetIds)) this.watchers.get(id)?.forEach((watcher) => watcher());
  }
  subscribe(runTargetId: string, listener: Listener): () => void {
    const set = this.listeners.get(runTargetId) ?? new Set();
    set.add(listener);
    this.listeners.set(runTargetId, set);
    return () => set.delete(listener);
  }
  publish(events: OutputEvent[]) {
    const byTarget = new Map<string, OutputEvent[]>();
    for (const event of events) {
      if (!this.listeners.has(event.run_target_id)) continue;
      const list = byTarget.get(event.run_target_id) ?? [];
      list.push(event);
      byTarget.set(event.run_target_id, list);
    }
    byTarget.forEach((list, target) => this.listeners.get(target)?.forEach((listener) => listener(list)));
  }
}

interface OutputPage {
  chunks: { seq: number; step: number | null; stream: string; text: string }[];
  next_after: number;
  complete: boolean;
}

/** The target's output: history then live, in log order, each chunk once, appended to the
 * output view's buffer. (Mounted once per target: the page keys the panel by the target.
 * ``runTargetId``, the target's row in this run, is known once its detail has loaded.) */
export function useTargetOutput(runId: string, targetId: string, runTargetId: string | undefined, bus: OutputBus) {
  const buffer = useOutputBuffer(targetId);
  const [error, setError] = useState<unknown>(null);
  const [complete, setComplete] = useState(false);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    if (!runTargetId) return undefined;
    let stopped = false;
    let last = 0;
    let historyDone = false;
    const early: OutputEvent[] = [];
    const append = (more: Chunk[]) => {
      const fresh = more.filter((chunk) => chunk.seq > last);
      if (!fresh.length) return;
      last = fresh[fresh.length - 1].seq;
      buffer.append(fresh.map((chunk) => ({ step: chunk.step, stream: chunk.stream, text: chunk.text })));
    };
    const fromEvents = (events: OutputEvent[]) =>
      events.map((event) => ({ seq: event.id, step: event.step, stream: event.stream, text: event.text }));
    const unsubscribe = bus.subscribe(runTargetId, (events) => {
      if (historyDone) append(fromEvents(events));
      else early.push(...events);
    });
    (async () => {
      try {
        for (;;) {
          const page = (await unwrap(
            api.GET("/api/v1/runs/{id}/targets/{target_id}/output/", {
              params: { path: { id: runId, target_id: targetId }, query: { after: last, limit: 1000 } },
            }),
          )) as unknown as OutputPage;
          if (stopped) return;
          append(page.chunks);
          if (page.complete) setComplete(true);
          if (page.complete || page.chunks.length < 1000) break;
        }
        historyDone = true;
        append(fromEvents(early.sort((a, b) => a.id - b.id)));
        setLoaded(true);
      } catch (exc) {
        if (!stopped) setError(exc);
      }
    })();
    return () => {
      stopped = true;
      unsubscribe();
    };
  }, [runId, targetId, runTargetId, bus, buffer]);
  return { buffer, error, complete, loaded };
}

export function TargetPanel({
  runId,
  targetId,
  bus,
  onClose,
}: {
  runId: string;
  targetId: string;
  bus: OutputBus;
  onClose: () => void;
}) {
  const target = useQuery({
    queryKey: ["runs", runId, "targets", "one", targetId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/runs/{id}/targets/{target_id}/", { params: { path: { id: runId, target_id: targetId } } })) as Promise<RunTarget>,
  });
  const client = useQueryClient();
  const runTargetId = target.data?.id;
  useEffect(() => {
    if (!runTargetId) return undefined;
    const refresh = throttle(() => client.invalidateQueries({ queryKey: ["runs", runId, "targets", "one", targetId] }), 500);
    const stop = bus.watch(runTargetId, refresh.call);
    return () => {
      stop();
      refresh.cancel();
    };
  }, [bus, client, runId, targetId, runTargetId]);
  const data = target.data;
  const output = useTargetOutput(runId, targetId, data?.id, bus);
  return (
    <Paper component="section" variant="outlined" sx={{ p: 2 }} aria-labelledby="target-title">
      <Stack direction="row" alignItems="center" spacing={1} sx={{ mb: 1 }}>
        <Typography id="target-title" variant="h6" component="h2" sx={{ flexGrow: 1 }}>
          {data ? data.target_name : "Target"}
        </Typography>
        {data ? <StatusChip state={data.status} /> : null}
        <Tooltip title="Close">
          <IconButton onClick={onClose} aria-label="Close the target's output">
            <Close />
          </IconButton>
        </Tooltip>
      </Stack>
      {target.error ? <ErrorAlert error={target.error} /> : null}
      {data?.pending_reason && (data.status === "pending" || data.status === "queued") ? (
        <Typography sx={{ mb: 1 }}>Waiting: {data.pending_reason}</Typography>
      ) : null}
      {data?.reason ? <Typography sx={{ mb: 1 }}>{data.reason}</Typography> : null}
      {data?.steps.length ? (
        <Table size="small" aria-label="Steps" sx={{ mb: 2 }}>
          <TableHead>
            <TableRow>
              <TableCell>#</TableCell>
              <TableCell>Step</TableCell>
              <TableCell>State</TableCell>
              <TableCell>Exit</TableCell>
              <TableCell>Duration</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {data.steps.map((step) => (
              <TableRow key={step.index}>
                <TableCell>{step.index}</TableCell>
                <TableCell>
                  {step.name}
                  {step.reason ? (
                    <Typography variant="body2" color="text.secondary">
                      {step.reason}
                    </Typography>
                  ) : null}
                </TableCell>
                <TableCell>
                  <StatusChip state={step.status} />
                </TableCell>
                <TableCell>{step.exit_code ?? "—"}</TableCell>
                <TableCell>{formatDuration(step.duration_ms)}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      ) : null}
      {output.error ? <ErrorAlert error={output.error} /> : null}
      <OutputView
        buffer={output.buffer}
        label={`Output of ${data?.target_name ?? "the target"}`}
        stepNames={Object.fromEntries((data?.steps ?? []).map((step) => [step.index, step.name]))}
        downloadName={`run-${runId}-${data?.target_name ?? targetId}`}
        // all of it is here once the server said so, or once the target has ended after the
        // history was read (the stream brought the rest, in order, before the target's end)
        complete={output.complete || Boolean(output.loaded && data && TERMINAL_TARGET.has(data.status))}
        empty={data && !TERMINAL_TARGET.has(data.status) ? "No output yet: it appears here as the target prints it." : "This target printed nothing."}
      />
    </Paper>
  );
}
