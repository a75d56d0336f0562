// The output of one target, live: virtualised lines (only what is on screen is in the DOM),
// ANSI colours as styles, line numbers, stderr marked, step headers, search, download, follow.
//
// The page owns an OutputBuffer (useOutputBuffer) and appends chunks to it as they arrive (from
// the output endpoint's pages, then the live stream); this view subscribes to it and re-renders
// at most once per frame, and then only the rows on screen.
import ArrowDownwardIcon from "@mui/icons-material/ArrowDownward";
import DownloadIcon from "@mui/icons-material/Download";
import KeyboardArrowDownIcon from "@mui/icons-material/KeyboardArrowDown";
import KeyboardArrowUpIcon from "@mui/icons-material/KeyboardArrowUp";
import SearchIcon from "@mui/icons-material/Search";
import VerticalAlignBottomIcon from "@mui/icons-material/VerticalAlignBottom";
import WrapTextIcon from "@mui/icons-material/WrapText";
import {
  Box,
  Button,
  IconButton,
  InputAdornment,
  Stack,
  TextField,
  ToggleButton,
  Tooltip,
  Typography,
  useTheme,
} from "@mui/material";
import { useVirtualizer } from "@tanstack/react-virtual";
import {
  memo,
  useCallback,
  useEffect,
  useId,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type CSSProperties,
  type KeyboardEvent,
  type ReactNode,
} from "react";
import { OUTPUT_BACKGROUND, OUTPUT_FOREGROUND, toSegments, visiblePrefix, type ThemeMode } from "./ansi";
import { OutputBuffer, plainText, stepHeading, type OutputLine } from "./buffer";
import { afterScroll, newLines, type FollowState } from "./follow";
import { highlight } from "./highlight";
import { findMatches, SearchIndex, type MatchPosition } from "./search";

/** Characters of one line rendered at first; the rest is one click away, and in the download. */
export const LINE_LIMIT = 10_000;
/** Characters each "Show more" adds (a wrapped line of this size still lays out quickly). */
export const LINE_STEP = 100_000;
const ROW_HEIGHT = 20;
/** Longest a render spends searching; the rest of a first search of much output follows in later tasks. */
const SEARCH_SLICE_MS = 12;

export interface OutputViewProps {
  buffer: OutputBuffer;
  /** The region's accessible name, e.g. "Output of web-01". */
  label: string;
  /** Step names by step number (from 1), for the headers between steps. */
  stepNames?: Record<number, string>;
  /** File name of the download (".txt" is added). */
  downloadName?: string;
  /** Whether everything the server has was loaded (else the download says it is partial). */
  complete?: boolean;
  /** Height of the scrolling area (default: 60vh). */
  height?: number | string;
  /** Shown while there is no output yet. */
  empty?: ReactNode;
}

/** A buffer that lives as long as the component (a new one when `key` changes: another target). */
export function useOutputBuffer(key?: unknown): OutputBuffer {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => new OutputBuffer(), [key]);
}

export function OutputView({ buffer, label, stepNames, downloadName = "output", complete = true, height = "60vh", empty }: OutputViewProps) {
  const theme = useTheme();
  const mode: ThemeMode = theme.palette.mode === "dark" ? "dark" : "light";
  const revision = useSyncExternalStore(buffer.subscribe, buffer.getRevision);
  const lines = buffer.lines;
  const count = lines.length;
  const lineCount = buffer.lineCount;

  const scrollRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const hintId = useId();
  const [wrap, setWrap] = useState(true);
  const [follow, setFollow] = useState<Omit<FollowState, "lastTop">>({ following: true, linesAtStop: 0 });
  const lastTop = useRef(0);
  const [expanded, setExpanded] = useState<{ generation: number; limits: Map<number, number> }>(() => ({
    generation: buffer.generation,
    limits: new Map(),
  }));
  const limits = expanded.generation === buffer.generation ? expanded.limits : EMPTY_LIMITS;

  // search
  const index = useMemo(() => new SearchIndex(), []);
  const [query, setQuery] = useState("");
  const [current, setCurrent] = useState<MatchPosition | null>(null);
  const [, setSlice] = useState(0);
  const revealFrom = useRef<number | null>(null);
  const searched = index.update(buffer, query, SEARCH_SLICE_MS);
  const currentValid = index.valid(current) ? current : null;

  // the view re-renders on every change of the virtualizer's state (it is not compiler-memoised)
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });
  const totalSize = virtualizer.getTotalSize();

  // follow: after lines arrive (or rows were measured), stay at the bottom
  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (!follow.following || !element) return;
    element.scrollTop = element.scrollHeight;
    lastTop.current = element.scrollTop;
  }, [follow.following, revision, totalSize, wrap]);

  const onScroll = useCallback(() => {
    const element = scrollRef.current;
    if (!element) return;
    const next = afterScroll(
      { ...follow, lastTop: lastTop.current },
      { scrollTop: element.scrollTop, clientHeight: element.clientHeight, scrollHeight: element.scrollHeight },
      buffer.lineCount,
    );
    lastTop.current = next.lastTop;
    if (next.following !== follow.following) setFollow({ following: next.following, linesAtStop: next.linesAtStop });
  }, [buffer, follow]);

  // the user's own move wins over a search still looking for its first match
  const resume = () => {
    revealFrom.current = null;
    setFollow({ following: true, linesAtStop: buffer.lineCount });
  };
  const pause = () => {
    revealFrom.current = null;
    setFollow({ following: false, linesAtStop: buffer.lineCount });
  };

  const reveal = (position: MatchPosition | null) => {
    setCurrent(position);
    if (!position) return;
    const line = lines[position.line];
    if (line?.kind === "text") {
      const match = findMatches(plainText(line), index.query)[position.occurrence];
      const limit = limits.get(position.line) ?? LINE_LIMIT;
      if (match && match.end > limit) {
        const next = new Map(limits);
        next.set(position.line, match.end + 200);
        setExpanded({ generation: buffer.generation, limits: next });
      }
    }
    setFollow({ following: false, linesAtStop: buffer.lineCount });
    virtualizer.scrollToIndex(position.line, { align: "center" });
  };

  // a search of much output goes on in slices, one task each; then its first match is shown
  useEffect(() => {
    if (searched && revealFrom.current === null) return;
    const timer = window.setTimeout(() => {
      const from = revealFrom.current;
      if (from !== null) {
        // lines are searched in order: a match at or after `from` is the first one already
        const position = index.firstFrom(from);
        if (position && (searched || position.line >= from)) {
          revealFrom.current = null;
          reveal(position);
        } else if (searched) revealFrom.current = null;
      }
      if (!searched) setSlice((n) => n + 1);
    }, 0);
    return () => window.clearTimeout(timer);
  });

  const onQuery = (value: string) => {
    setQuery(value);
    setCurrent(null);
    revealFrom.current = value ? (virtualizer.getVirtualItems()[0]?.index ?? 0) : null;
  };

  const onSearchKey = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter") {
      event.preventDefault();
      reveal(event.shiftKey ? index.previous(currentValid) : index.next(currentValid));
    } else if (event.key === "Escape" && query) {
      event.preventDefault();
      onQuery("");
    }
  };

  const onRegionKey = (event: KeyboardEvent<HTMLDivElement>) => {
    if ((event.key === "f" && (event.ctrlKey || event.metaKey)) || event.key === "/") {
      event.preventDefault();
      searchRef.current?.focus();
    }
  };

  const expand = useCallback(
    (lineIndex: number) =>
      setExpanded((prev) => {
        const base = prev.generation === buffer.generation ? prev.limits : EMPTY_LIMITS;
        const next = new Map(base);
        next.set(lineIndex, (base.get(lineIndex) ?? LINE_LIMIT) + LINE_STEP);
        return { generation: buffer.generation, limits: next };
      }),
    [buffer],
  );

  const download = () => {
    const text = buffer.toPlainText((step) => stepNames?.[step]);
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${downloadName}.txt`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const unseen = newLines({ ...follow, lastTop: 0 }, lineCount);
  const digits = String(Math.max(lineCount, 99)).length;
  const matchLabel = !query
    ? ""
    : !searched
      ? `Searching… ${index.total.toLocaleString()} so far`
      : index.total === 0
      ? "No matches"
      : currentValid
        ? `${index.ordinal(currentValid).toLocaleString()} of ${index.total.toLocaleString()}`
        : `${index.total.toLocaleString()} matches`;

  return (
    <Box sx={{ border: 1, borderColor: "divider", borderRadius: 1, overflow: "hidden" }}>
      <Stack
        direction="row"
        spacing={1}
        alignItems="center"
        useFlexGap
        flexWrap="wrap"
        sx={{ px: 1, py: 0.75, borderBottom: 1, borderColor: "divider", bgcolor: "background.paper" }}
      >
        <TextField
          size="small"
          label="Search output"
          value={query}
          inputRef={searchRef}
          onChange={(event) => onQuery(event.target.value)}
          onKeyDown={onSearchKey}
          slotProps={{
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <SearchIcon fontSize="small" />
                </InputAdornment>
              ),
            },
            htmlInput: { "aria-describedby": hintId, spellCheck: false },
          }}
          sx={{ width: 260 }}
        />
        <Typography
          variant="body2"
          role="status"
          color="text.secondary"
          sx={{ minWidth: 90, fontVariantNumeric: "tabular-nums" }}
        >
          {matchLabel}
        </Typography>
        <span id={hintId} hidden>
          Enter: next match, Shift+Enter: previous match, Escape: clear
        </span>
        <Tooltip title="Previous match (Shift+Enter)">
          <span>
            <IconButton size="small" aria-label="Previous match" disabled={!index.total} onClick={() => reveal(index.previous(currentValid))}>
              <KeyboardArrowUpIcon />
            </IconButton>
          </span>
        </Tooltip>
        <Tooltip title="Next match (Enter)">
          <span>
            <IconButton size="small" aria-label="Next match" disabled={!index.total} onClick={() => reveal(index.next(currentValid))}>
              <KeyboardArrowDownIcon />
            </IconButton>
          </span>
        </Tooltip>
        <Box sx={{ flexGrow: 1 }} />
        <Typography variant="body2" color="text.secondary" sx={{ fontVariantNumeric: "tabular-nums" }}>
          {lineCount.toLocaleString()} {lineCount === 1 ? "line" : "lines"}
        </Typography>
        <ToggleButton size="small" value="wrap" selected={wrap} onChange={() => setWrap((w) => !w)} aria-label="Wrap long lines">
          <WrapTextIcon fontSize="small" sx={{ mr: 0.5 }} />
          Wrap
        </ToggleButton>
        <ToggleButton
          size="small"
          value="follow"
          selected={follow.following}
          onChange={() => (follow.following ? pause() : resume())}
          aria-label={follow.following ? "Following new output: stop" : "Follow new output"}
        >
          <VerticalAlignBottomIcon fontSize="small" sx={{ mr: 0.5 }} />
          {follow.following ? "Following" : "Follow"}
        </ToggleButton>
        <Tooltip title={complete ? "The whole output as a text file" : "What is loaded so far, as a text file"}>
          <span>
            <Button size="small" startIcon={<DownloadIcon />} onClick={download} disabled={!lineCount}>
              {complete ? "Download" : "Download loaded"}
            </Button>
          </span>
        </Tooltip>
      </Stack>
      <Box sx={{ position: "relative" }}>
        <Box
          ref={scrollRef}
          role="log"
          aria-label={label}
          aria-live="off"
          tabIndex={0}
          onScroll={onScroll}
          onKeyDown={onRegionKey}
          sx={{
            height,
            overflow: "auto",
            bgcolor: OUTPUT_BACKGROUND[mode],
            color: OUTPUT_FOREGROUND[mode],
            fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace",
            fontSize: 13,
            lineHeight: `${ROW_HEIGHT}px`,
            contain: "strict",
            "&:focus-visible": { outline: `2px solid ${theme.palette.primary.main}`, outlineOffset: -2 },
            "& .oc-row": { display: "flex", minWidth: "100%", width: wrap ? "100%" : "max-content" },
            "& .oc-ln": {
              flex: "none",
              width: `${digits + 2}ch`,
              pr: "1ch",
              textAlign: "right",
              color: mode === "dark" ? "#8b949e" : "#59636e",
              userSelect: "none",
            },
            "& .oc-stream": { flex: "none", width: "4ch", userSelect: "none", fontSize: 11, fontWeight: 700 },
            "& .oc-row.stderr": { bgcolor: mode === "dark" ? "rgba(248,81,73,0.10)" : "rgba(207,34,46,0.06)" },
            "& .oc-row.stderr .oc-stream": { color: mode === "dark" ? "#ff7b72" : "#b3261e" },
            "& .oc-row.marker .oc-text": { fontStyle: "italic" },
            "& .oc-text": {
              flex: "1 1 auto",
              minWidth: 0,
              whiteSpace: wrap ? "pre-wrap" : "pre",
              overflowWrap: wrap ? "anywhere" : "normal",
              pr: 1,
            },
            "& .oc-step": {
              flex: "1 1 auto",
              fontWeight: 700,
              borderTop: 1,
              borderColor: "divider",
              bgcolor: mode === "dark" ? "rgba(255,255,255,0.06)" : "rgba(0,0,0,0.05)",
              px: 1,
            },
            "& mark": { bgcolor: mode === "dark" ? "#6e5a00" : "#fff3a3", color: "inherit", borderRadius: "2px" },
            "& mark.current": {
              bgcolor: mode === "dark" ? "#f0b400" : "#f59e0b",
              color: "#000",
              outline: "2px solid",
              outlineColor: mode === "dark" ? "#fff" : "#000",
            },
            "& .oc-more": { ml: 1, textTransform: "none", fontFamily: "inherit", fontSize: 12, py: 0, minHeight: 0, lineHeight: "18px" },
          }}
        >
          {count === 0 ? (
            <Typography sx={{ p: 2, fontFamily: "inherit", fontSize: "inherit" }} color="text.secondary">
              {empty ?? "No output yet."}
            </Typography>
          ) : (
            <div style={{ height: totalSize, position: "relative", width: wrap ? "100%" : "max-content", minWidth: "100%" }}>
              {virtualizer.getVirtualItems().map((item) => (
                <Row
                  key={item.key}
                  index={item.index}
                  start={item.start}
                  line={lines[item.index]}
                  mode={mode}
                  query={index.counts[item.index] ? index.query : ""}
                  current={currentValid?.line === item.index ? currentValid.occurrence : -1}
                  limit={limits.get(item.index) ?? LINE_LIMIT}
                  stepName={lines[item.index]?.kind === "step" ? stepNames?.[(lines[item.index] as { step: number }).step] : undefined}
                  measure={virtualizer.measureElement}
                  onExpand={expand}
                />
              ))}
            </div>
          )}
        </Box>
        {!follow.following && count > 0 ? (
          <Button
            variant="contained"
            size="small"
            startIcon={<ArrowDownwardIcon />}
            onClick={resume}
            sx={{ position: "absolute", right: 24, bottom: 16, boxShadow: 3 }}
          >
            {unseen > 0 ? `Jump to latest (${unseen.toLocaleString()} new ${unseen === 1 ? "line" : "lines"})` : "Jump to latest"}
          </Button>
        ) : null}
      </Box>
    </Box>
  );
}

const EMPTY_LIMITS = new Map<number, number>();

/** Inside a match the highlight's colours win (readable), the ANSI weight and decoration stay. */
function markStyle(style: CSSProperties | undefined): CSSProperties | undefined {
  if (!style) return undefined;
  const { color: _color, backgroundColor: _background, opacity: _opacity, ...rest } = style;
  return rest;
}

interface RowProps {
  index: number;
  start: number;
  line: OutputLine | undefined;
  mode: ThemeMode;
  query: string;
  current: number;
  limit: number;
  stepName: string | undefined;
  measure: (element: Element | null) => void;
  onExpand: (index: number) => void;
}

const Row = memo(function Row({ index, start, line, mode, query, current, limit, stepName, measure, onExpand }: RowProps) {
  const style = { position: "absolute", top: 0, left: 0, transform: `translateY(${start}px)` } as const;
  const visible = useMemo(() => (line?.kind === "text" ? visiblePrefix(line.text, limit) : null), [line, limit]);
  const segments = useMemo(() => (visible ? toSegments(visible.text, mode) : []), [visible, mode]);
  const matches = useMemo(() => (line?.kind === "text" && query ? findMatches(plainText(line), query) : []), [line, query]);
  if (!line) return null;
  if (line.kind === "step") {
    return (
      <div ref={measure} data-index={index} className="oc-row" style={style}>
        <div className="oc-step">{stepHeading(line.step, stepName)}</div>
      </div>
    );
  }
  const pieces = highlight(segments, matches, current);
  const stream = line.stream === "stderr" ? "stderr" : line.stream === "marker" ? "marker" : "stdout";
  return (
    <div ref={measure} data-index={index} className={`oc-row ${stream}`} style={style}>
      <span className="oc-ln" aria-hidden="true">
        {line.number}
      </span>
      <span className="oc-stream" title={stream === "stderr" ? "standard error" : stream === "marker" ? "note from OpsConductor" : undefined}>
        {stream === "stderr" ? "err" : stream === "marker" ? "note" : ""}
      </span>
      <span className="oc-text">
        {pieces.map((piece, i) =>
          piece.mark ? (
            <mark key={i} className={piece.mark === 2 ? "current" : undefined} style={markStyle(piece.style)}>
              {piece.text}
            </mark>
          ) : piece.style ? (
            <span key={i} style={piece.style}>
              {piece.text}
            </span>
          ) : (
            piece.text
          ),
        )}
        {visible && visible.more > 0 ? (
          <>
            <span aria-hidden="true">…</span>
            <Button size="small" variant="outlined" className="oc-more" onClick={() => onExpand(index)}>
              Show more of this line ({visible.more.toLocaleString()} more characters)
            </Button>
          </>
        ) : null}
      </span>
    </div>
  );
});
