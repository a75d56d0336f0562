// A selector input of a form: the shared selector box (live count, preview, errors at their
// position), with the error of the last submit, if the server refused the selector.
import { Box } from "@mui/material";
import { SelectorBox } from "./SelectorBox";

export function SelectorField({
  label,
  value,
  onChange,
  errors,
  helperText,
}: {
  id?: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  errors: string[];
  helperText?: string;
}) {
  return (
    <SelectorBox
      label={label}
      value={value}
      onChange={onChange}
      helperText={
        errors.length ? (
          <Box component="span" role="alert" sx={{ color: "error.main" }}>
            {errors.join(" ")}
          </Box>
        ) : (
          helperText
        )
      }
    />
  );
}
