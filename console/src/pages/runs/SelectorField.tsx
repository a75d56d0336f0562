// The selector input of the launch form.
import { TextField } from "@mui/material";

export function SelectorField({
  id,
  label,
  value,
  onChange,
  errors,
  helperText,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  errors: string[];
  helperText?: string;
}) {
  return (
    <TextField
      id={id}
      label={label}
      value={value}
      onChange={(event) => onChange(event.target.value)}
      error={errors.length > 0}
      helperText={errors.length ? errors.join(" ") : helperText}
      fullWidth
      slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: "monospace" } } }}
    />
  );
}
