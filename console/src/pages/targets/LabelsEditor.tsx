// A target's labels as rows of key and value. Errors come keyed by the label's key
// (`labels.<key>`, as the API reports them), so each shows at the row with that key.
import { Box, Button, IconButton, Stack, TextField, Typography } from "@mui/material";
import Add from "@mui/icons-material/Add";
import Delete from "@mui/icons-material/Delete";
import { useId } from "react";

export interface LabelRow {
  /** Local identity of the row (keys may be edited or duplicated while typing). */
  rowId: number;
  key: string;
  value: string;
}

let nextRowId = 1;
export function labelRow(key = "", value = ""): LabelRow {
  return { rowId: nextRowId++, key, value };
}

export function labelRows(labels: Record<string, string> | undefined): LabelRow[] {
  return Object.entries(labels ?? {}).map(([key, value]) => labelRow(key, value));
}

/** The rows as the API's `{key: value}`; rows without a key are left out. */
export function labelsOf(rows: LabelRow[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (key) labels[key] = row.value;
  }
  return labels;
}

/** Problems the browser can tell before asking the server: the same key twice. */
export function duplicateKeys(rows: LabelRow[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const row of rows) {
    const key = row.key.trim();
    if (!key) continue;
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return twice;
}

export function LabelsEditor({
  rows,
  onChange,
  errors = {},
  disabled,
}: {
  rows: LabelRow[];
  onChange: (rows: LabelRow[]) => void;
  /** The form's field errors (dotted paths); `labels` and `labels.<key>` are shown here. */
  errors?: Record<string, string[]>;
  disabled?: boolean;
}) {
  const headingId = useId();
  const twice = duplicateKeys(rows);
  const update = (rowId: number, change: Partial<LabelRow>) =>
    onChange(rows.map((row) => (row.rowId === rowId ? { ...row, ...change } : row)));
  const whole = errors.labels;
  return (
    <Box component="fieldset" sx={{ border: 0, p: 0, m: 0 }} aria-labelledby={headingId}>
      <Typography id={headingId} variant="subtitle1" component="legend" sx={{ mb: 1 }}>
        Labels
      </Typography>
      {rows.length === 0 ? (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          No labels. Labels are <code>key=value</code> pairs that selectors can match (for example{" "}
          <code>role=db</code>).
        </Typography>
      ) : null}
      <Stack spacing={1}>
        {rows.map((row, index) => {
          const key = row.key.trim();
          const keyErrors = [
            ...(twice.has(key) ? ["This key is used twice: a target has one value per key."] : []),
            ...(key ? (errors[`labels.${key}`] ?? []) : []),
          ];
          return (
            <Stack key={row.rowId} direction="row" spacing={1} alignItems="flex-start">
              <TextField
                label={`Label ${index + 1} key`}
                value={row.key}
                onChange={(event) => update(row.rowId, { key: event.target.value })}
                error={keyErrors.length > 0}
                helperText={keyErrors.join(" ") || " "}
                size="small"
                disabled={disabled}
                slotProps={{ htmlInput: { maxLength: 63, spellCheck: false } }}
                sx={{ flex: 1 }}
              />
              <TextField
                label={`Label ${index + 1} value`}
                value={row.value}
                onChange={(event) => update(row.rowId, { value: event.target.value })}
                size="small"
                disabled={disabled}
                helperText=" "
                slotProps={{ htmlInput: { maxLength: 255 } }}
                sx={{ flex: 2 }}
              />
                  <IconButton
                    aria-label={`Remove label ${index + 1}${key ? ` (${key})` : ""}`}
                    onClick={() => onChange(rows.filter((other) => other.rowId !== row.rowId))}
                    disabled={disabled}
                  >
                    <Delete />
                  </IconButton>
            </Stack>
          );
        })}
      </Stack>
      {whole ? (
        <Typography role="alert" color="error" variant="body2" sx={{ mb: 1 }}>
          {whole.join(" ")}
        </Typography>
      ) : null}
      <Button startIcon={<Add />} onClick={() => onChange([...rows, labelRow()])} disabled={disabled} size="small">
        Add a label
      </Button>
    </Box>
  );
}
