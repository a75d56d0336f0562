// The dry-run plan of a job (POST /jobs/{id}/validate/): for given parameter values and a
// selector, the targets a run would hit and every step rendered per OS family, secrets masked.
// Nothing runs.
import {
  Alert,
  AlertTitle,
  Box,
  Chip,
  MenuItem,
  Stack,
  Tab,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Tabs,
  TextField,
  Typography,
} from "@mui/material";
import CheckCircle from "@mui/icons-material/CheckCircle";
import ErrorIcon from "@mui/icons-material/Error";
import Preview from "@mui/icons-material/Preview";
import { SelectorField } from "../../components/SelectorField";
import { useState, type FormEvent } from "react";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { Code } from "./DefinitionView";
import { integerOrText, type Parameter } from "./model";
import { usePlan, type Plan, type PlannedStep } from "./queries";

const MONO = { fontFamily: "monospace" };

/** The values to send: only those given, each as its type wants it. */
export function planValues(parameters: Parameter[], values: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of parameters) {
    const value = values[p.name];
    if (value === undefined || value === "") continue;
    if (p.type === "integer") out[p.name] = integerOrText(value);
    else if (p.type === "boolean") out[p.name] = value === "true";
    else out[p.name] = value;
  }
  return out;
}

export function ValueField({
  parameter,
  value,
  onChange,
  error,
}: {
  parameter: Parameter;
  value: string;
  onChange: (value: string) => void;
  error?: string;
}) {
  const hasDefault = parameter.default !== undefined && parameter.default !== null;
  const help =
    error ??
    ([
      parameter.description ? parameter.description.replace(/([^.!?])$/, "$1.") : null,
      hasDefault ? (parameter.type === "secret" ? "Default stored (hidden)." : `Default: ${String(parameter.default)}.`) : null,
      parameter.required !== false && !hasDefault ? "Required." : null,
    ]
      .filter(Boolean)
      .join(" ") ||
      undefined);
  const common = {
    label: parameter.name,
    value,
    error: Boolean(error),
    helperText: help,
    fullWidth: true,
    size: "small" as const,
  };
  if (parameter.type === "boolean" || parameter.type === "choice") {
    const options = parameter.type === "boolean" ? ["true", "false"] : (parameter.choices ?? []);
    return (
      <TextField select {...common} onChange={(event) => onChange(event.target.value)}>
        <MenuItem value="">{hasDefault ? "(the default)" : "(none)"}</MenuItem>
        {options.map((option) => (
          <MenuItem key={option} value={option}>
            {option}
          </MenuItem>
        ))}
      </TextField>
    );
  }
  return (
    <TextField
      {...common}
      type={parameter.type === "secret" ? "password" : parameter.type === "integer" ? "number" : "text"}
      autoComplete={parameter.type === "secret" ? "off" : undefined}
      onChange={(event) => onChange(event.target.value)}
      slotProps={parameter.type === "target_selector" ? { htmlInput: { style: MONO, spellCheck: false } } : undefined}
    />
  );
}

export function PlanPanel({ jobId, parameters, defaultSelector }: { jobId: string; parameters: Parameter[]; defaultSelector: string }) {
  const plan = usePlan(jobId);
  const [values, setValues] = useState<Record<string, string>>({});
  const [selector, setSelector] = useState("");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await plan.mutateAsync({ parameters: planValues(parameters, values), selector: selector.trim() || undefined });
    } catch {
      // shown below
    } finally {
      // secrets typed here are not kept once sent
      setValues((current) =>
        Object.fromEntries(Object.entries(current).filter(([name]) => parameters.find((p) => p.name === name)?.type !== "secret")),
      );
    }
  };

  const problems = plan.data?.problems ?? [];
  const problemAt = (field: string) =>
    problems
      .filter((p) => p.field === field)
      .map((p) => p.message)
      .join(" ") || undefined;
  const placed = new Set(["selector", ...parameters.map((p) => `parameters.${p.name}`)]);

  return (
    <Box component="form" onSubmit={submit} noValidate aria-label="Plan a run">
      <Stack spacing={2}>
        {parameters.length > 0 ? (
          <Box sx={{ display: "grid", gridTemplateColumns: { xs: "1fr", md: "1fr 1fr" }, gap: 2 }}>
            {parameters.map((p) => (
              <ValueField
                key={p.name}
                parameter={p}
                value={values[p.name] ?? ""}
                onChange={(value) => setValues({ ...values, [p.name]: value })}
                error={problemAt(`parameters.${p.name}`)}
              />
            ))}
          </Box>
        ) : null}
        <SelectorField
          label="Target selector"
          value={selector}
          onChange={setSelector}
          errors={problemAt("selector") ? [String(problemAt("selector"))] : []}
          helperText={defaultSelector ? `Empty: the job's default (${defaultSelector}).` : "The job has no default selector: give one."}
        />
        <Box>
          <GatedButton needs="planJobs" type="submit" variant="outlined" startIcon={<Preview />} disabled={plan.isPending}>
            {plan.isPending ? "Planning…" : "Show the plan"}
          </GatedButton>
        </Box>
        {plan.isError ? <ErrorAlert error={plan.error} /> : null}
        {plan.data ? <PlanResult plan={plan.data} placed={placed} /> : null}
      </Stack>
    </Box>
  );
}

function PlanResult({ plan, placed }: { plan: Plan; placed: Set<string> }) {
  const families = Object.keys(plan.plan);
  const [family, setFamily] = useState(families[0] ?? "");
  const shown = families.includes(family) ? family : families[0];
  const others = plan.problems.filter((p) => !placed.has(p.field));
  return (
    <Stack spacing={2} aria-live="polite">
      {plan.valid ? (
        <Alert severity="success" icon={<CheckCircle />}>
          A run of version {plan.version} would start on {plan.target_count} target{plan.target_count === 1 ? "" : "s"}.
        </Alert>
      ) : (
        <Alert severity="error" icon={<ErrorIcon />}>
          <AlertTitle>A run could not start with these values</AlertTitle>
          {plan.problems.length} problem{plan.problems.length === 1 ? "" : "s"}
          {others.length < plan.problems.length ? ", shown at their fields" : ""}
          {others.length > 0 ? (
            <ul style={{ margin: "4px 0 0", paddingLeft: 20 }}>
              {others.map((p, index) => (
                <li key={index}>
                  <strong>{p.field}: </strong>
                  {p.message}
                </li>
              ))}
            </ul>
          ) : null}
        </Alert>
      )}
      <Typography variant="subtitle1" component="h3">
        Targets ({plan.target_count}) for <code>{plan.selector || "no selector"}</code>
      </Typography>
      {plan.targets.length === 0 ? (
        <Typography color="text.secondary">No target matches.</Typography>
      ) : (
        <Box sx={{ maxHeight: 260, overflow: "auto" }}>
          <Table size="small" aria-label="Targets of the plan" stickyHeader>
            <TableHead>
              <TableRow>
                <TableCell>Target</TableCell>
                <TableCell>OS</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {plan.targets.map((target) => (
                <TableRow key={target.id}>
                  <TableCell>{target.name}</TableCell>
                  <TableCell>{target.os_family}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Box>
      )}
      {families.length > 0 ? (
        <>
          <Typography variant="subtitle1" component="h3">
            Rendered steps
          </Typography>
          <Tabs value={shown} onChange={(_, value: string) => setFamily(value)} aria-label="OS family">
            {families.map((name) => (
              <Tab key={name} value={name} label={`${name} targets`} />
            ))}
          </Tabs>
          <Stack spacing={1.5}>
            {(plan.plan[shown] ?? []).map((step, index) => (
              <PlannedStepView key={index} step={step} index={index} />
            ))}
          </Stack>
        </>
      ) : null}
    </Stack>
  );
}

function PlannedStepView({ step, index }: { step: PlannedStep; index: number }) {
  const env = Object.entries(step.env ?? {});
  return (
    <Box sx={{ borderLeft: 3, borderColor: step.skipped ? "divider" : "primary.main", pl: 1.5 }}>
      <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="subtitle2" component="h4">
          {index + 1}. {step.name}
        </Typography>
        <Chip size="small" label={step.kind} />
        {step.skipped ? <Chip size="small" variant="outlined" label={`skipped: ${step.reason}`} /> : null}
        {step.interpreter ? <Chip size="small" variant="outlined" label={step.interpreter} /> : null}
      </Stack>
      {step.command !== undefined ? <Code label={`Rendered command of step ${index + 1}`}>{step.command}</Code> : null}
      {step.script !== undefined ? <Code label={`Rendered script of step ${index + 1}`}>{step.script}</Code> : null}
      {step.path !== undefined ? (
        <>
          <Typography variant="body2">
            Upload to <code>{step.path}</code>
            {step.mode ? ` (mode ${step.mode})` : ""}
          </Typography>
          <Code label={`Rendered content of step ${index + 1}`}>{step.content}</Code>
        </>
      ) : null}
      {step.workdir ? (
        <Typography variant="body2">
          In <code>{step.workdir}</code>
        </Typography>
      ) : null}
      {env.length > 0 ? <Code label={`Environment of step ${index + 1}`}>{env.map(([k, v]) => `${k}=${v}`).join("\n")}</Code> : null}
    </Box>
  );
}
