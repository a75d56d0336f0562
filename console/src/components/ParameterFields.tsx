// The form fields of a job's typed parameters (string, integer, boolean, choice, secret, target
// selector), shared by the launch form and the schedule editor. A secret is a password field:
// never pre-filled, never shown.
import {
  Checkbox,
  FormControl,
  FormControlLabel,
  FormHelperText,
  InputLabel,
  MenuItem,
  Select,
  TextField,
} from "@mui/material";
import { SelectorField } from "./SelectorField";

export interface ParameterSpec {
  name: string;
  type: "string" | "integer" | "boolean" | "choice" | "secret" | "target_selector";
  required?: boolean;
  default?: unknown;
  description?: string;
  choices?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

export type Values = Record<string, string | boolean>;

export function initialValues(parameters: ParameterSpec[]): Values {
  const values: Values = {};
  for (const parameter of parameters) {
    if (parameter.type === "boolean") values[parameter.name] = parameter.default === true;
    else if (parameter.type === "secret") values[parameter.name] = "";
    else values[parameter.name] = parameter.default === undefined || parameter.default === null ? "" : String(parameter.default);
  }
  return values;
}

/** The values as the API takes them: integers as numbers, empty optional fields left out (the
 * job's default applies). */
export function parameterPayload(parameters: ParameterSpec[], values: Values): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const parameter of parameters) {
    const value = values[parameter.name];
    if (parameter.type === "boolean") {
      payload[parameter.name] = Boolean(value);
      continue;
    }
    if (value === "" || value === undefined) continue;
    payload[parameter.name] = parameter.type === "integer" && /^-?\d+$/.test(String(value)) ? Number(value) : value;
  }
  return payload;
}

export function ParameterField({
  parameter,
  value,
  onChange,
  errors,
  secretHelp,
}: {
  parameter: ParameterSpec;
  value: string | boolean;
  onChange: (value: string | boolean) => void;
  errors: string[];
  /** What a secret field's helper says when there is no error (e.g. "leave empty to keep"). */
  secretHelp?: string;
}) {
  const label = `${parameter.name}${parameter.required === false ? " (optional)" : ""}`;
  const help = errors.length ? errors.join(" ") : parameter.description || undefined;
  const id = `parameter-${parameter.name}`;
  switch (parameter.type) {
    case "boolean":
      return (
        <FormControl error={errors.length > 0}>
          <FormControlLabel control={<Checkbox checked={Boolean(value)} onChange={(event) => onChange(event.target.checked)} />} label={parameter.name} />
          {help ? <FormHelperText>{help}</FormHelperText> : null}
        </FormControl>
      );
    case "choice":
      return (
        <FormControl error={errors.length > 0} fullWidth>
          <InputLabel id={`${id}-label`}>{label}</InputLabel>
          <Select labelId={`${id}-label`} label={label} value={String(value)} onChange={(event) => onChange(event.target.value)}>
            {parameter.required === false ? (
              <MenuItem value="">
                <em>the job's default</em>
              </MenuItem>
            ) : null}
            {(parameter.choices ?? []).map((choice) => (
              <MenuItem key={choice} value={choice}>
                {choice}
              </MenuItem>
            ))}
          </Select>
          {help ? <FormHelperText>{help}</FormHelperText> : null}
        </FormControl>
      );
    case "secret":
      return (
        <TextField
          id={id}
          label={label}
          type="password"
          autoComplete="new-password"
          value={String(value)}
          onChange={(event) => onChange(event.target.value)}
          error={errors.length > 0}
          helperText={help ?? secretHelp ?? "A secret: sent once, never shown again, masked in output."}
          fullWidth
        />
      );
    case "target_selector":
      return <SelectorField id={id} label={label} value={String(value)} onChange={onChange} errors={errors} helperText={parameter.description} />;
    case "integer":
      return (
        <TextField
          id={id}
          label={label}
          type="number"
          value={String(value)}
          onChange={(event) => onChange(event.target.value)}
          error={errors.length > 0}
          helperText={help}
          slotProps={{ htmlInput: { min: parameter.minimum, max: parameter.maximum, step: 1 } }}
          fullWidth
        />
      );
    default:
      return (
        <TextField
          id={id}
          label={label}
          value={String(value)}
          onChange={(event) => onChange(event.target.value)}
          error={errors.length > 0}
          helperText={help ?? (parameter.pattern ? `Must match ${parameter.pattern}` : undefined)}
          fullWidth
        />
      );
  }
}

