// An ordered list of name = value pairs (labels, a step's environment), each row removable.
import { Box, Button, IconButton, Stack, TextField, Tooltip, Typography } from "@mui/material";
import Add from "@mui/icons-material/Add";
import Delete from "@mui/icons-material/Delete";
import { newKey, type Pair } from "./model";

export function PairsEditor({
  label,
  nameLabel,
  valueLabel,
  pairs,
  onChange,
  errors,
  disabled,
  monospace,
}: {
  label: string;
  nameLabel: string;
  valueLabel: string;
  pairs: Pair[];
  onChange: (pairs: Pair[]) => void;
  /** Messages for the whole map (shown under it). */
  errors?: string[];
  disabled?: boolean;
  monospace?: boolean;
}) {
  const update = (index: number, change: Partial<Pair>) =>
    onChange(pairs.map((pair, i) => (i === index ? { ...pair, ...change } : pair)));
  const font = monospace ? { fontFamily: "monospace" } : undefined;
  return (
    <Box component="fieldset" sx={{ border: 0, p: 0, m: 0 }}>
      <Typography component="legend" variant="subtitle2" sx={{ mb: 1 }}>
        {label}
      </Typography>
      <Stack spacing={1}>
        {pairs.map((pair, index) => (
          <Stack direction="row" spacing={1} key={pair.key} alignItems="flex-start">
            <TextField
              size="small"
              label={`${nameLabel} ${index + 1}`}
              value={pair.name}
              disabled={disabled}
              onChange={(event) => update(index, { name: event.target.value })}
              slotProps={{ htmlInput: { style: font } }}
              sx={{ flex: 1 }}
            />
            <TextField
              size="small"
              label={`${valueLabel} ${index + 1}`}
              value={pair.value}
              disabled={disabled}
              onChange={(event) => update(index, { value: event.target.value })}
              slotProps={{ htmlInput: { style: font } }}
              sx={{ flex: 2 }}
            />
            <Tooltip title={`Remove ${nameLabel.toLowerCase()} ${index + 1}`}>
              <span>
                <IconButton
                  aria-label={`Remove ${nameLabel.toLowerCase()} ${index + 1}`}
                  disabled={disabled}
                  onClick={() => onChange(pairs.filter((_, i) => i !== index))}
                >
                  <Delete />
                </IconButton>
              </span>
            </Tooltip>
          </Stack>
        ))}
        {errors && errors.length > 0 ? (
          <Typography color="error" variant="body2" role="alert">
            {errors.join(" ")}
          </Typography>
        ) : null}
        <Box>
          <Button
            size="small"
            startIcon={<Add />}
            disabled={disabled}
            onClick={() => onChange([...pairs, { key: newKey(), name: "", value: "" }])}
          >
            Add {nameLabel.toLowerCase()}
          </Button>
        </Box>
      </Stack>
    </Box>
  );
}
