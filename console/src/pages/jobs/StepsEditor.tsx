// The ordered steps of a job: every kind the API has (command, script, upload) with its fields,
// moved up and down, added and removed; the API's errors shown at `steps.N.field`.
import {
  Alert,
  Button,
  Checkbox,
  FormControlLabel,
  MenuItem,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import { PairsEditor } from "./PairsEditor";
import {
  emptyStep,
  INTERPRETERS,
  KIND_LABELS,
  messageAt,
  messagesUnder,
  OS_FAMILIES,
  STEP_KINDS,
  type FieldErrors,
  type StepDraft,
  type StepKind,
} from "./model";
import { ItemCard } from "./ItemCard";

const MONO = { fontFamily: "monospace" };

export function StepsEditor({
  steps,
  onChange,
  errors,
  disabled,
}: {
  steps: StepDraft[];
  onChange: (steps: StepDraft[]) => void;
  errors?: FieldErrors;
  disabled?: boolean;
}) {
  const move = (index: number, by: number) => {
    const next = [...steps];
    const [step] = next.splice(index, 1);
    next.splice(index + by, 0, step);
    onChange(next);
  };
  const add = (kind: StepKind) => {
    const taken = new Set(steps.map((s) => s.name));
    let n = steps.length + 1;
    while (taken.has(`step-${n}`)) n += 1;
    onChange([...steps, emptyStep(kind, `step-${n}`)]);
  };
  const listError = messageAt(errors, "steps");
  return (
    <Stack spacing={2}>
      {listError ? <Alert severity="error">{listError}</Alert> : null}
      {steps.length === 0 ? (
        <Typography color="text.secondary">A job needs at least one step: add one below.</Typography>
      ) : null}
      {steps.map((step, index) => (
        <StepCard
          key={step.key}
          step={step}
          index={index}
          count={steps.length}
          errors={errors}
          disabled={disabled}
          onChange={(changed) => onChange(steps.map((s, i) => (i === index ? changed : s)))}
          onMove={(by) => move(index, by)}
          onRemove={() => onChange(steps.filter((_, i) => i !== index))}
        />
      ))}
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap>
        {STEP_KINDS.map((kind) => (
          <Button key={kind} variant="outlined" startIcon={<Add />} disabled={disabled} onClick={() => add(kind)}>
            Add {kind} step
          </Button>
        ))}
      </Stack>
    </Stack>
  );
}

export function StepCard({
  step,
  index,
  count,
  errors,
  disabled,
  onChange,
  onMove,
  onRemove,
}: {
  step: StepDraft;
  index: number;
  count: number;
  errors?: FieldErrors;
  disabled?: boolean;
  onChange: (step: StepDraft) => void;
  onMove: (by: number) => void;
  onRemove: () => void;
}) {
  const path = `steps.${index}`;
  const at = (field: string) => messageAt(errors, `${path}.${field}`);
  const set = (change: Partial<StepDraft>) => onChange({ ...step, ...change });
  const field = (name: keyof StepDraft & string, label: string, extra: { help?: string } & Record<string, unknown> = {}) => {
    const message = at(name);
    const { help, ...rest } = extra;
    return (
      <TextField
        label={label}
        value={step[name] as string}
        onChange={(event) => set({ [name]: event.target.value } as Partial<StepDraft>)}
        error={Boolean(message)}
        helperText={message ?? help}
        disabled={disabled}
        fullWidth
        {...rest}
      />
    );
  };
  const title = `Step ${index + 1}${step.name ? `: ${step.name}` : ""}`;
  return (
    <ItemCard
      noun="step"
      index={index}
      count={count}
      title={title}
      path={path}
      errors={errors}
      disabled={disabled}
      onMove={onMove}
      onRemove={onRemove}
    >
          <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
            {field("name", "Name", { required: true, help: "Unique within the job." })}
            <TextField
              select
              label="Kind"
              value={step.kind}
              disabled={disabled}
              onChange={(event) => {
                const kind = event.target.value as StepKind;
                set({ kind, interpreter: kind === "script" ? step.interpreter || "bash" : step.interpreter });
              }}
              error={Boolean(at("kind"))}
              helperText={at("kind")}
              fullWidth
            >
              {STEP_KINDS.map((kind) => (
                <MenuItem key={kind} value={kind}>
                  {KIND_LABELS[kind]}
                </MenuItem>
              ))}
            </TextField>
            <TextField
              select
              label="Runs on"
              value={step.os_family}
              disabled={disabled}
              onChange={(event) => set({ os_family: event.target.value as StepDraft["os_family"] })}
              error={Boolean(at("os_family"))}
              helperText={at("os_family") ?? "Other targets skip this step."}
              fullWidth
            >
              {OS_FAMILIES.map((family) => (
                <MenuItem key={family} value={family}>
                  {family === "any" ? "Any OS" : family === "linux" ? "Linux" : "Windows"}
                </MenuItem>
              ))}
            </TextField>
          </Stack>
          {step.kind === "command"
            ? field("command", "Command", {
                required: true,
                multiline: true,
                minRows: 1,
                slotProps: { htmlInput: { style: MONO, spellCheck: false } },
                help: "One shell command line. Refer to parameters as {{ name }}: values are quoted for the target's shell.",
              })
            : null}
          {step.kind === "script" ? (
            <>
              <TextField
                select
                label="Interpreter"
                value={step.interpreter}
                disabled={disabled}
                onChange={(event) => set({ interpreter: event.target.value })}
                error={Boolean(at("interpreter"))}
                helperText={at("interpreter") ?? "sh, bash and python3 run on Linux, PowerShell on Windows."}
                required
                sx={{ maxWidth: 320 }}
              >
                {INTERPRETERS.map((name) => (
                  <MenuItem key={name} value={name}>
                    {name === "powershell" ? "PowerShell" : name}
                  </MenuItem>
                ))}
              </TextField>
              {field("script", "Script", {
                required: true,
                multiline: true,
                minRows: 4,
                slotProps: { htmlInput: { style: MONO, spellCheck: false } },
                help:
                  step.interpreter === "python3"
                    ? "python3 scripts read parameters from the environment (OPSCONDUCTOR_PARAM_<NAME>), not {{ }}."
                    : "Delivered to the target as data. Refer to parameters as {{ name }}.",
              })}
            </>
          ) : null}
          {step.kind === "upload" ? (
            <>
              <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
                {field("path", "Destination path", {
                  required: true,
                  slotProps: { htmlInput: { style: MONO, spellCheck: false } },
                  help: "A value in {{ }} may only fill in a name inside the directory written before it.",
                })}
                <TextField
                  label="Mode"
                  value={step.mode}
                  disabled={disabled}
                  onChange={(event) => set({ mode: event.target.value })}
                  error={Boolean(at("mode"))}
                  helperText={at("mode") ?? "Octal, e.g. 0644 (optional)."}
                  slotProps={{ htmlInput: { style: MONO } }}
                  sx={{ maxWidth: { sm: 200 } }}
                />
              </Stack>
              {field("content", "Content", {
                required: true,
                multiline: true,
                minRows: 3,
                slotProps: { htmlInput: { style: MONO, spellCheck: false } },
              })}
            </>
          ) : null}
          <Stack direction={{ xs: "column", sm: "row" }} spacing={2} alignItems={{ sm: "flex-start" }}>
            {field("timeout_seconds", "Timeout (seconds)", {
              type: "number",
              slotProps: { htmlInput: { min: 1, max: 604800 } },
              help: "1 s to 7 days.",
            })}
            {field("workdir", "Working directory", { slotProps: { htmlInput: { style: MONO } }, help: "Optional." })}
            <FormControlLabel
              sx={{ minWidth: 220 }}
              control={
                <Checkbox
                  checked={step.continue_on_error}
                  disabled={disabled}
                  onChange={(event) => set({ continue_on_error: event.target.checked })}
                />
              }
              label="Continue on error"
            />
          </Stack>
          {at("continue_on_error") ? <Typography color="error">{at("continue_on_error")}</Typography> : null}
          <PairsEditor
            label="Environment variables"
            nameLabel="Variable"
            valueLabel="Value"
            pairs={step.env}
            onChange={(env) => set({ env })}
            errors={messagesUnder(errors, `${path}.env`)}
            disabled={disabled}
            monospace
          />
    </ItemCard>
  );
}
