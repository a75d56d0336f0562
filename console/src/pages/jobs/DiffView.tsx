// A unified line diff of two texts: removed lines marked "−" and added "+" (not by colour
// alone), old and new line numbers, long unchanged runs folded behind a button.
import { Box, Button, Typography } from "@mui/material";
import { Fragment, useMemo, useState } from "react";
import { diffLines, hunks, type DiffLine } from "./diff";

const SIGN = { same: " ", added: "+", removed: "−" } as const;
const LABEL = { same: "unchanged", added: "added", removed: "removed" } as const;

function Row({ line }: { line: DiffLine }) {
  const bg = line.kind === "added" ? "success.main" : line.kind === "removed" ? "error.main" : undefined;
  return (
    <Box
      role="row"
      aria-label={`${LABEL[line.kind]} line`}
      sx={{
        display: "grid",
        gridTemplateColumns: "3.5em 3.5em 1.5em 1fr",
        position: "relative",
        "&::before": bg ? { content: '""', position: "absolute", inset: 0, bgcolor: bg, opacity: 0.12 } : undefined,
      }}
    >
      <Box component="span" role="cell" sx={{ color: "text.secondary", textAlign: "right", pr: 1, userSelect: "none" }}>
        {line.oldNumber ?? ""}
      </Box>
      <Box component="span" role="cell" sx={{ color: "text.secondary", textAlign: "right", pr: 1, userSelect: "none" }}>
        {line.newNumber ?? ""}
      </Box>
      <Box component="span" role="cell" aria-hidden sx={{ fontWeight: 700, userSelect: "none" }}>
        {SIGN[line.kind]}
      </Box>
      <Box component="span" role="cell" sx={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
        {line.text}
      </Box>
    </Box>
  );
}

export function DiffView({ before, after, label }: { before: string[]; after: string[]; label: string }) {
  const lines = useMemo(() => diffLines(before, after), [before, after]);
  const parts = useMemo(() => hunks(lines, 3), [lines]);
  const [opened, setOpened] = useState<Set<number>>(new Set());
  const added = lines.filter((l) => l.kind === "added").length;
  const removed = lines.filter((l) => l.kind === "removed").length;
  return (
    <Box>
      <Typography variant="body2" sx={{ mb: 1 }} aria-live="polite">
        {added === 0 && removed === 0 ? "No differences." : `${added} line${added === 1 ? "" : "s"} added, ${removed} removed.`}
      </Typography>
      <Box
        role="table"
        aria-label={label}
        sx={{ fontFamily: "monospace", fontSize: "0.82rem", border: 1, borderColor: "divider", borderRadius: 1, overflow: "auto", py: 0.5 }}
      >
        {parts.map((part, index) =>
          part.kind === "lines" || opened.has(index) ? (
            <Fragment key={index}>
              {part.lines.map((line, i) => (
                <Row key={i} line={line} />
              ))}
            </Fragment>
          ) : (
            <Box role="row" key={index} sx={{ bgcolor: "action.hover" }}>
              <Box role="cell">
                <Button size="small" onClick={() => setOpened(new Set([...opened, index]))} sx={{ textTransform: "none" }}>
                  Show {part.lines.length} unchanged line{part.lines.length === 1 ? "" : "s"}
                </Button>
              </Box>
            </Box>
          ),
        )}
      </Box>
    </Box>
  );
}
