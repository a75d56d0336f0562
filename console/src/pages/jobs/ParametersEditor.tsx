// The typed parameters of a job: string, integer, boolean, choice (with its choices), secret
// (write-only default) and target selector, each with its options; errors at `parameters.N.x`.
import {
  Alert,
  Button,
  Checkbox,
  FormControlLabel,
  MenuItem,
  Radio,
  RadioGroup,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import Lock from "@mui/icons-material/Lock";
import {
  canKeepSecret,
  choicesOf,
  emptyParameter,
  messageAt,
  PARAMETER_TYPES,
  TYPE_LABELS,
  type FieldErrors,
  type ParameterDraft,
  type ParameterType,
} from "./model";
import { ItemCard } from "./ItemCard";

const MONO = { fontFamily: "monospace" };

export function ParametersEditor({
  parameters,
  onChange,
  errors,
  disabled,
}: {
  parameters: ParameterDraft[];
  onChange: (parameters: ParameterDraft[]) => void;
  errors?: FieldErrors;
  disabled?: boolean;
}) {
  const move = (index: number, by: number) => {
    const next = [...parameters];
    const [item] = next.splice(index, 1);
    next.splice(index + by, 0, item);
    onChange(next);
  };
  const listError = messageAt(errors, "parameters");
  return (
    <Stack spacing={2}>
      {listError ? <Alert severity="error">{listError}</Alert> : null}
      {parameters.length === 0 ? (
        <Typography color="text.secondary">
          No parameters: every run does the same. Add one to ask for a value at launch and refer to it in steps
          as {"{{ name }}"}.
        </Typography>
      ) : null}
      {parameters.map((parameter, index) => (
        <ParameterCard
          key={parameter.key}
          parameter={parameter}
          index={index}
          count={parameters.length}
          errors={errors}
          disabled={disabled}
          onChange={(changed) => onChange(parameters.map((p, i) => (i === index ? changed : p)))}
          onMove={(by) => move(index, by)}
          onRemove={() => onChange(parameters.filter((_, i) => i !== index))}
        />
      ))}
      <div>
        <Button variant="outlined" startIcon={<Add />} disabled={disabled} onClick={() => onChange([...parameters, emptyParameter()])}>
          Add parameter
        </Button>
      </div>
    </Stack>
  );
}

export function ParameterCard({
  parameter,
  index,
  count,
  errors,
  disabled,
  onChange,
  onMove,
  onRemove,
}: {
  parameter: ParameterDraft;
  index: number;
  count: number;
  errors?: FieldErrors;
  disabled?: boolean;
  onChange: (parameter: ParameterDraft) => void;
  onMove: (by: number) => void;
  onRemove: () => void;
}) {
  const path = `parameters.${index}`;
  const at = (field: string) => messageAt(errors, `${path}.${field}`);
  const set = (change: Partial<ParameterDraft>) => onChange({ ...parameter, ...change });
  const title = `Parameter ${index + 1}${parameter.name ? `: ${parameter.name}` : ""}`;
  const type = parameter.type;
  const choices = choicesOf(parameter);
  return (
    <ItemCard
      noun="parameter"
      index={index}
      count={count}
      title={title}
      path={path}
      errors={errors} itemErrorKeys={["default_sealed"]}
      disabled={disabled}
      onMove={onMove}
      onRemove={onRemove}
    >
          <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
            <TextField
              label="Name"
              required
              value={parameter.name}
              disabled={disabled}
              onChange={(event) => set({ name: event.target.value })}
              error={Boolean(at("name"))}
              helperText={at("name") ?? "Letters, digits and _; used in steps as {{ name }}."}
              slotProps={{ htmlInput: { style: MONO, spellCheck: false } }}
              fullWidth
            />
            <TextField
              select
              label="Type"
              value={type}
              disabled={disabled}
              onChange={(event) =>
                set({ type: event.target.value as ParameterType, default: "", secretDefault: "none" })
              }
              error={Boolean(at("type"))}
              helperText={at("type")}
              fullWidth
            >
              {PARAMETER_TYPES.map((t) => (
                <MenuItem key={t} value={t}>
                  {TYPE_LABELS[t]}
                </MenuItem>
              ))}
            </TextField>
          </Stack>
          <TextField
            label="Label / description"
            value={parameter.description}
            disabled={disabled}
            onChange={(event) => set({ description: event.target.value })}
            error={Boolean(at("description"))}
            helperText={at("description") ?? "Shown to whoever launches the job."}
            fullWidth
          />
          {type === "string" || type === "secret" ? (
            <TextField
              label="Pattern"
              value={parameter.pattern}
              disabled={disabled}
              onChange={(event) => set({ pattern: event.target.value })}
              error={Boolean(at("pattern"))}
              helperText={at("pattern") ?? "A regular expression the whole value must match (optional)."}
              slotProps={{ htmlInput: { style: MONO, spellCheck: false } }}
              fullWidth
            />
          ) : null}
          {type === "integer" ? (
            <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
              <TextField
                label="Minimum"
                type="number"
                value={parameter.minimum}
                disabled={disabled}
                onChange={(event) => set({ minimum: event.target.value })}
                error={Boolean(at("minimum"))}
                helperText={at("minimum") ?? "Optional."}
                fullWidth
              />
              <TextField
                label="Maximum"
                type="number"
                value={parameter.maximum}
                disabled={disabled}
                onChange={(event) => set({ maximum: event.target.value })}
                error={Boolean(at("maximum"))}
                helperText={at("maximum") ?? "Optional."}
                fullWidth
              />
            </Stack>
          ) : null}
          {type === "choice" ? (
            <TextField
              label="Choices"
              required
              multiline
              minRows={3}
              value={parameter.choices}
              disabled={disabled}
              onChange={(event) => set({ choices: event.target.value })}
              error={Boolean(at("choices"))}
              helperText={at("choices") ?? "One choice per line."}
              fullWidth
            />
          ) : null}
          <DefaultField parameter={parameter} choices={choices} error={at("default")} disabled={disabled} set={set} />
          <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
            <FormControlLabel
              control={
                <Checkbox
                  checked={parameter.required}
                  disabled={disabled}
                  onChange={(event) => set({ required: event.target.checked })}
                />
              }
              label="Required at launch (unless it has a default)"
            />
            <FormControlLabel
              control={
                <Checkbox
                  checked={parameter.allow_unused}
                  disabled={disabled}
                  onChange={(event) => set({ allow_unused: event.target.checked })}
                />
              }
              label="May be used by no step"
            />
          </Stack>
          {at("required") || at("allow_unused") ? (
            <Typography color="error" variant="body2">
              {[at("required"), at("allow_unused")].filter(Boolean).join(" ")}
            </Typography>
          ) : null}
    </ItemCard>
  );
}

function DefaultField({
  parameter,
  choices,
  error,
  disabled,
  set,
}: {
  parameter: ParameterDraft;
  choices: string[];
  error?: string;
  disabled?: boolean;
  set: (change: Partial<ParameterDraft>) => void;
}) {
  const common = {
    label: "Default",
    disabled,
    error: Boolean(error),
    fullWidth: true,
  };
  switch (parameter.type) {
    case "boolean":
      return (
        <TextField select {...common} value={parameter.default} onChange={(event) => set({ default: event.target.value })} helperText={error}>
          <MenuItem value="">No default</MenuItem>
          <MenuItem value="true">true</MenuItem>
          <MenuItem value="false">false</MenuItem>
        </TextField>
      );
    case "choice":
      return (
        <TextField
          select
          {...common}
          value={choices.includes(parameter.default) ? parameter.default : ""}
          onChange={(event) => set({ default: event.target.value })}
          helperText={error ?? (choices.length === 0 ? "Add choices first." : undefined)}
        >
          <MenuItem value="">No default</MenuItem>
          {choices.map((choice) => (
            <MenuItem key={choice} value={choice}>
              {choice}
            </MenuItem>
          ))}
        </TextField>
      );
    case "secret":
      return (
        <Stack spacing={1}>
          <Typography variant="body2" id={`secret-default-${parameter.key}`} sx={{ display: "flex", alignItems: "center", gap: 0.5 }}>
            <Lock fontSize="small" aria-hidden /> Default (write-only: a stored secret is never shown)
          </Typography>
          <RadioGroup
            row
            aria-labelledby={`secret-default-${parameter.key}`}
            value={parameter.secretDefault}
            onChange={(event) => set({ secretDefault: event.target.value as ParameterDraft["secretDefault"], default: "" })}
          >
            <FormControlLabel value="none" control={<Radio disabled={disabled} />} label="No default" />
            {parameter.storedSecret ? (
              <FormControlLabel value="keep" control={<Radio disabled={disabled} />} label="Keep the stored default" />
            ) : null}
            <FormControlLabel value="replace" control={<Radio disabled={disabled} />} label="Set a new default" />
          </RadioGroup>
          {parameter.secretDefault === "keep" && !canKeepSecret(parameter) ? (
            <Alert severity="warning">
              Renamed from {parameter.originalName}: the stored default stays with that name. Set a new default, or
              save with none.
            </Alert>
          ) : null}
          {parameter.secretDefault === "replace" ? (
            <TextField
              {...common}
              label="New default"
              type="password"
              autoComplete="new-password"
              value={parameter.default}
              onChange={(event) => set({ default: event.target.value })}
              helperText={error ?? "Stored sealed; never shown again."}
            />
          ) : error ? (
            <Typography color="error" variant="body2">
              {error}
            </Typography>
          ) : null}
        </Stack>
      );
    case "integer":
      return (
        <TextField
          {...common}
          type="number"
          value={parameter.default}
          onChange={(event) => set({ default: event.target.value })}
          helperText={error ?? "Optional."}
        />
      );
    default:
      return (
        <TextField
          {...common}
          value={parameter.default}
          onChange={(event) => set({ default: event.target.value })}
          helperText={error ?? "Optional."}
          slotProps={parameter.type === "target_selector" ? { htmlInput: { style: MONO, spellCheck: false } } : undefined}
        />
      );
  }
}
