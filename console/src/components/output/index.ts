export { OutputView, useOutputBuffer, LINE_LIMIT, LINE_STEP, type OutputViewProps } from "./OutputView";
export { OutputBuffer, type OutputChunk, type OutputLine } from "./buffer";
