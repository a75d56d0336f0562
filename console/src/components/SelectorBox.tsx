// An input for a target selector (docs/targets-selectors.md): as the user types it asks the
// server (debounced) which targets the expression selects, and shows how many, the first few
// names, and an error at the very place it is (the API's `error.positions`).
import { Box, Button, Chip, CircularProgress, Link, Stack, TextField, Typography } from "@mui/material";
import ErrorOutlineIcon from "@mui/icons-material/ErrorOutline";
import CheckCircleOutlineIcon from "@mui/icons-material/CheckCircleOutline";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { Link as RouterLink } from "react-router";
import { api, ApiError, type ApiErrorBody } from "../api/client";

export const SELECTOR_DEBOUNCE_MS = 400;
const PREVIEW_SIZE = 5;

/** A selector the server refused: its message and the 0-based character offset it points at. */
export interface SelectorProblem {
  message: string;
  position: number | null;
}

export interface SelectorPreview {
  count: number;
  names: { id: string; name: string }[];
}

/** Where a selector error is: the API's `error.positions.selector`, or else the message's own
 * "at position N" (errors from other endpoints that only say it in words). */
export function selectorProblemOf(body: (ApiErrorBody & { positions?: Record<string, number> }) | undefined, field = "selector"): SelectorProblem | null {
  if (!body) return null;
  const messages = body.fields?.[field];
  if (!messages?.length) return null;
  const message = messages[0];
  const given = body.positions?.[field];
  if (typeof given === "number") return { message, position: given };
  const match = message.match(/at position (\d+)/);
  return { message, position: match ? Number(match[1]) : null };
}

/** `value` once it has stopped changing for `delay` ms. */
export function useDebounced<T>(value: T, delay = SELECTOR_DEBOUNCE_MS): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

class SelectorRefused extends Error {
  readonly problem: SelectorProblem;
  constructor(problem: SelectorProblem) {
    super(problem.message);
    this.problem = problem;
  }
}

async function preview(selector: string): Promise<SelectorPreview> {
  let result;
  try {
    result = await api.POST("/api/v1/targets/select/", {
      body: { selector },
      params: { query: { page_size: PREVIEW_SIZE } },
    });
  } catch {
    throw new ApiError(0, { code: "unreachable", message: "The server cannot be reached." });
  }
  const { data, error, response } = result as {
    data?: { count: number; results: { id: string; name: string }[] };
    error?: { error?: ApiErrorBody & { positions?: Record<string, number> } };
    response: Response;
  };
  if (!response.ok) {
    const problem = response.status === 400 ? selectorProblemOf(error?.error) : null;
    if (problem) throw new SelectorRefused(problem);
    throw new ApiError(response.status, error?.error);
  }
  return {
    count: data?.count ?? 0,
    names: (data?.results ?? []).map((target) => ({ id: target.id, name: target.name })),
  };
}

/** The live preview of a selector: what it selects, or where it is wrong. Nothing is asked
 * while the text is empty. */
export function useSelectorPreview(value: string, delay = SELECTOR_DEBOUNCE_MS) {
  const settled = useDebounced(value.trim(), delay);
  const query = useQuery({
    queryKey: ["targets", "select", settled],
    queryFn: () => preview(settled),
    enabled: settled !== "",
    retry: false,
    staleTime: 10_000,
    placeholderData: keepPreviousData,
  });
  const problem = query.error instanceof SelectorRefused ? query.error.problem : null;
  return {
    /** the text the result is about (the value, once it stopped changing) */
    settled,
    pending: value.trim() !== settled || query.isFetching,
    preview: query.isError || settled === "" ? null : (query.data ?? null),
    problem,
    /** any other failure (403, unreachable): show it with ErrorAlert */
    error: query.error && !problem ? query.error : null,
  };
}

/** A window of the text around `position`, for long selectors: the caret stays in view. */
function excerpt(text: string, position: number, width = 60) {
  const start = Math.max(0, Math.min(position - Math.floor(width / 2), text.length - width));
  const end = Math.min(text.length, start + width);
  return {
    before: start > 0 ? "…" : "",
    text: text.slice(start, end),
    after: end < text.length ? "…" : "",
    caret: position - start + (start > 0 ? 1 : 0),
  };
}

function ErrorPointer({ text, problem, onGoTo }: { text: string; problem: SelectorProblem; onGoTo: () => void }) {
  const position = problem.position;
  const shown = position === null ? null : excerpt(text, position);
  return (
    <Box role="alert" sx={{ mt: 1, color: "error.main" }}>
      <Stack direction="row" spacing={1} alignItems="flex-start">
        <ErrorOutlineIcon fontSize="small" aria-hidden sx={{ mt: "2px" }} />
        <Typography variant="body2" component="div" sx={{ flexGrow: 1 }}>
          <strong>Invalid selector: </strong>
          {problem.message}
        </Typography>
        {position !== null ? (
          <Button size="small" color="error" onClick={onGoTo} sx={{ flexShrink: 0 }}>
            Go to position {position}
          </Button>
        ) : null}
      </Stack>
      {shown ? (
        <Box
          component="pre"
          data-testid="selector-error-pointer"
          aria-hidden
          sx={{ fontFamily: "monospace", fontSize: "0.85rem", m: 0, mt: 0.5, ml: 3.5, overflowX: "auto", whiteSpace: "pre" }}
        >
          {`${shown.before}${shown.text}${shown.after}\n${" ".repeat(shown.caret)}^`}
        </Box>
      ) : null}
    </Box>
  );
}

export function selectorListLink(selector: string): string {
  return `/targets?${new URLSearchParams({ selector }).toString()}`;
}

export function SelectorBox({
  value,
  onChange,
  label = "Selector",
  helperText,
  autoFocus,
  onSubmit,
  showListLink = true,
}: {
  value: string;
  onChange: (value: string) => void;
  label?: string;
  helperText?: ReactNode;
  autoFocus?: boolean;
  /** Enter in the box (e.g. apply a filter now) */
  onSubmit?: (value: string) => void;
  /** the "see all" link to the targets list (off on the list itself) */
  showListLink?: boolean;
}) {
  const inputRef = useRef<HTMLInputElement>(null);
  const statusId = useId();
  const { settled, pending, preview: result, problem, error } = useSelectorPreview(value);
  // only a problem about the text on screen is pointed at
  const shownProblem = problem && settled === value.trim() ? problem : null;

  const goTo = () => {
    const input = inputRef.current;
    if (!input || shownProblem?.position == null) return;
    // the offset is in the trimmed text the server saw
    const offset = value.length - value.trimStart().length + shownProblem.position;
    input.focus();
    input.setSelectionRange(offset, Math.min(offset + 1, value.length));
  };

  return (
    <Box>
      <TextField
        label={label}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter" && onSubmit) {
            event.preventDefault();
            onSubmit(value);
          }
          if (event.key === "Escape" && value) {
            event.preventDefault();
            onChange("");
          }
        }}
        fullWidth
        size="small"
        autoFocus={autoFocus}
        error={Boolean(shownProblem)}
        placeholder="env=production and tag:web"
        helperText={
          helperText ?? (
            <>
              e.g. <code>env=production and tag:web</code>, <code>group:frontends or label:role=db</code>,{" "}
              <code>all</code>. Esc clears.
            </>
          )
        }
        slotProps={{
          htmlInput: {
            ref: inputRef,
            spellCheck: false,
            autoComplete: "off",
            autoCapitalize: "off",
            "aria-describedby": statusId,
            style: { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
          },
        }}
      />
      <Box id={statusId} aria-live="polite" sx={{ minHeight: 28 }}>
        {shownProblem ? (
          <ErrorPointer text={value.trim()} problem={shownProblem} onGoTo={goTo} />
        ) : error ? (
          <Typography variant="body2" color="error" sx={{ mt: 1 }} role="alert">
            The preview failed: {error.message}
          </Typography>
        ) : value.trim() === "" ? null : pending && !result ? (
          <Stack direction="row" spacing={1} alignItems="center" sx={{ mt: 1 }}>
            <CircularProgress size={14} aria-hidden />
            <Typography variant="body2" color="text.secondary">
              Checking the selector…
            </Typography>
          </Stack>
        ) : result ? (
          <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap sx={{ mt: 1 }}>
            <CheckCircleOutlineIcon fontSize="small" color={result.count ? "success" : "disabled"} aria-hidden />
            <Typography variant="body2" data-testid="selector-count">
              {result.count === 1 ? "1 target selected" : `${result.count.toLocaleString()} targets selected`}
              {result.count === 0 ? " (nothing matches yet)" : ""}
            </Typography>
            {pending ? <CircularProgress size={12} aria-label="Updating" /> : null}
            {result.names.map((target) => (
              <Chip
                key={target.id}
                size="small"
                variant="outlined"
                label={target.name}
                component={RouterLink}
                to={`/targets/${target.id}`}
                clickable
              />
            ))}
            {showListLink && result.count > 0 ? (
              <Link component={RouterLink} to={selectorListLink(settled)} variant="body2">
                {result.count > result.names.length ? `See all ${result.count.toLocaleString()}` : "See them"} in the
                targets list
              </Link>
            ) : null}
          </Stack>
        ) : null}
      </Box>
    </Box>
  );
}
