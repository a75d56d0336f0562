// The output view of a run's target. Usage (the page owns the buffer and feeds it):
//
//   const buffer = useOutputBuffer(targetId);          // a new buffer per target
//   // pages of GET /api/v1/runs/{id}/targets/{target_id}/output/?after=N, then the live stream's
//   // `output` events of this target, in order:
//   buffer.append(chunks.map((c) => ({ step: c.step, stream: c.stream, text: c.text })));
//   <OutputView buffer={buffer} label={`Output of ${name}`} stepNames={{ 1: "check disk" }}
//               downloadName={`run-${runId}-${name}`} complete={done} />
//
// Appending costs the chunk's length only; the view renders at most every 100 ms.
export { OutputView, useOutputBuffer, LINE_LIMIT, LINE_STEP, type OutputViewProps } from "./OutputView";
export { OutputBuffer, type OutputChunk, type OutputLine } from "./buffer";
