// A record's changes, field by field: before (−) and after (+) side by side. Added and removed
// are said in words and signs, not colour alone; secrets were masked before they were recorded.
import { Box, Paper, Table, TableBody, TableCell, TableContainer, TableHead, TableRow, Typography } from "@mui/material";
import { alpha } from "@mui/material/styles";
import { diffRows, formatValue, isMasked, type DiffRow } from "./diff";

const KIND_WORDS: Record<DiffRow["kind"], string> = {
  changed: "changed",
  added: "added",
  removed: "removed",
  note: "",
};

function Value({ value, sign }: { value: unknown; sign: "−" | "+" }) {
  if (value === undefined) return null;
  return (
    <Box component="span" sx={{ display: "flex", gap: 1, alignItems: "baseline" }}>
      <span aria-hidden="true">{sign}</span>
      <Box component="code" sx={{ overflowWrap: "anywhere", whiteSpace: "pre-wrap" }}>
        {formatValue(value)}
      </Box>
      {isMasked(value) ? (
        <Typography variant="caption" color="text.secondary">
          (secret: never recorded)
        </Typography>
      ) : null}
    </Box>
  );
}

export function ChangesDiff({ changes }: { changes: unknown }) {
  const rows = diffRows(changes);
  if (rows.length === 0) {
    return (
      <Typography color="text.secondary" sx={{ py: 1 }}>
        This event recorded no field changes. Its details below say what it was about.
      </Typography>
    );
  }
  return (
    <TableContainer component={Paper} variant="outlined">
      <Table size="small" aria-label="Changes">
        <TableHead>
          <TableRow>
            <TableCell sx={{ width: "22%" }}>Field</TableCell>
            <TableCell sx={{ width: "39%" }}>Before</TableCell>
            <TableCell sx={{ width: "39%" }}>After</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map((row, index) => {
            const label = row.kind === "note" ? row.path || "note" : `${row.path} ${KIND_WORDS[row.kind]}`;
            return (
              <TableRow key={`${row.path}-${index}`} aria-label={label} data-kind={row.kind}>
                <TableCell>
                  <code style={{ overflowWrap: "anywhere" }}>{row.path || "—"}</code>
                  {row.kind !== "changed" && row.kind !== "note" ? (
                    <Typography variant="caption" color="text.secondary" component="div">
                      {KIND_WORDS[row.kind]}
                    </Typography>
                  ) : null}
                </TableCell>
                {row.note && row.before === undefined && row.after === undefined ? (
                  <TableCell colSpan={2}>{row.note === "added" ? "Added" : row.note === "removed" ? "Removed" : row.note}</TableCell>
                ) : (
                  <>
                    <TableCell
                      sx={(theme) => ({
                        bgcolor: row.before !== undefined && row.kind !== "added" ? alpha(theme.palette.error.main, 0.1) : undefined,
                      })}
                    >
                      {row.kind === "added" || row.kind === "note" ? <span>—</span> : <Value value={row.before} sign="−" />}
                    </TableCell>
                    <TableCell
                      sx={(theme) => ({
                        bgcolor: row.after !== undefined && row.kind !== "removed" ? alpha(theme.palette.success.main, 0.1) : undefined,
                      })}
                    >
                      {row.kind === "removed" ? <span>—</span> : <Value value={row.after} sign="+" />}
                    </TableCell>
                  </>
                )}
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
    </TableContainer>
  );
}
