// A job's definition, read-only: general fields, parameters, steps and policy.
import {
  Box,
  Chip,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from "@mui/material";
import Lock from "@mui/icons-material/Lock";
import type { ReactNode } from "react";
import { Section } from "./Section";
import { DEFAULT_POLICY, KIND_LABELS, MASK, TYPE_LABELS, type Definition, type Parameter, type Policy, type Step } from "./model";

export function Code({ children, label }: { children: ReactNode; label?: string }) {
  return (
    <Box
      component="pre"
      aria-label={label}
      tabIndex={0}
      sx={{
        m: 0,
        p: 1.5,
        bgcolor: "action.hover",
        borderRadius: 1,
        fontFamily: "monospace",
        fontSize: "0.85rem",
        whiteSpace: "pre-wrap",
        wordBreak: "break-word",
        maxHeight: 400,
        overflow: "auto",
      }}
    >
      {children}
    </Box>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Box sx={{ display: "grid", gridTemplateColumns: { sm: "200px 1fr" }, gap: 1, py: 0.5 }}>
      <Typography variant="body2" color="text.secondary" component="div">
        {label}
      </Typography>
      <Box sx={{ minWidth: 0 }}>{children}</Box>
    </Box>
  );
}

function defaultText(p: Parameter): ReactNode {
  if (p.default === undefined || p.default === null) return <Typography variant="body2" color="text.secondary">none</Typography>;
  if (p.type === "secret" || p.default === MASK) {
    return (
      <Stack direction="row" spacing={0.5} alignItems="center">
        <Lock fontSize="small" aria-hidden />
        <span>stored (hidden)</span>
      </Stack>
    );
  }
  return <code>{JSON.stringify(p.default)}</code>;
}

function rules(p: Parameter): string {
  const out: string[] = [];
  if (p.pattern) out.push(`pattern ${p.pattern}`);
  if (p.minimum !== undefined && p.minimum !== null) out.push(`≥ ${p.minimum}`);
  if (p.maximum !== undefined && p.maximum !== null) out.push(`≤ ${p.maximum}`);
  if (p.choices) out.push(`one of ${p.choices.join(", ")}`);
  if (p.allow_unused) out.push("may be unused");
  return out.join("; ");
}

export function ParametersTable({ parameters }: { parameters: Parameter[] }) {
  if (parameters.length === 0) return <Typography color="text.secondary">No parameters: every run does the same.</Typography>;
  return (
    <TableContainer>
      <Table size="small" aria-label="Parameters">
        <TableHead>
          <TableRow>
            <TableCell>Name</TableCell>
            <TableCell>Type</TableCell>
            <TableCell>Required</TableCell>
            <TableCell>Default</TableCell>
            <TableCell>Rules</TableCell>
            <TableCell>Description</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {parameters.map((p) => (
            <TableRow key={p.name}>
              <TableCell sx={{ fontFamily: "monospace" }}>{p.name}</TableCell>
              <TableCell>{TYPE_LABELS[p.type] ?? p.type}</TableCell>
              <TableCell>{p.required === false ? "no" : "yes"}</TableCell>
              <TableCell>{defaultText(p)}</TableCell>
              <TableCell sx={{ fontFamily: "monospace", fontSize: "0.8rem" }}>{rules(p)}</TableCell>
              <TableCell>{p.description}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

export function StepView({ step, index }: { step: Step; index: number }) {
  const env = Object.entries(step.env ?? {});
  return (
    <Paper variant="outlined" component="section" aria-label={`Step ${index + 1}: ${step.name}`} sx={{ p: 2 }}>
      <Stack direction="row" spacing={1} alignItems="center" sx={{ mb: 1 }} flexWrap="wrap" useFlexGap>
        <Typography variant="subtitle1" component="h3">
          {index + 1}. {step.name}
        </Typography>
        <Chip size="small" label={KIND_LABELS[step.kind] ?? step.kind} />
        {step.kind === "script" ? <Chip size="small" variant="outlined" label={step.interpreter} /> : null}
        {step.os_family !== "any" ? <Chip size="small" variant="outlined" label={`${step.os_family} only`} /> : null}
        {step.continue_on_error ? <Chip size="small" variant="outlined" label="continues on error" /> : null}
        <Typography variant="body2" color="text.secondary">
          timeout {step.timeout_seconds} s
        </Typography>
      </Stack>
      {step.kind === "command" ? <Code label={`Command of step ${index + 1}`}>{step.command}</Code> : null}
      {step.kind === "script" ? <Code label={`Script of step ${index + 1}`}>{step.script}</Code> : null}
      {step.kind === "upload" ? (
        <>
          <Field label="Destination">
            <code>{step.path}</code>
            {step.mode ? ` (mode ${step.mode})` : ""}
          </Field>
          <Code label={`Content of step ${index + 1}`}>{step.content}</Code>
        </>
      ) : null}
      {step.workdir ? (
        <Field label="Working directory">
          <code>{step.workdir}</code>
        </Field>
      ) : null}
      {env.length > 0 ? (
        <Field label="Environment">
          <Code>{env.map(([name, value]) => `${name}=${value}`).join("\n")}</Code>
        </Field>
      ) : null}
    </Paper>
  );
}

const POLICY_LABELS: Record<keyof Policy, string> = {
  max_parallel: "Targets at once",
  batch_size: "Rolling batch size",
  failure_threshold: "Stop after failed targets",
  failure_threshold_percent: "Stop after % failed",
  run_timeout_seconds: "Run timeout",
  connection_retries: "Connection retries",
  retry_backoff_seconds: "Seconds between retries",
  allow_overlap: "Overlapping runs",
};

function policyValue(name: keyof Policy, value: unknown): string {
  if (name === "allow_overlap") return value ? "allowed" : "not allowed";
  if (value === null || value === undefined) return name === "batch_size" ? "no batches" : "never";
  if (name === "run_timeout_seconds" || name === "retry_backoff_seconds") return `${value} s`;
  if (name === "failure_threshold_percent") return `${value}%`;
  return String(value);
}

export function DefinitionView({ definition }: { definition: Definition }) {
  const labels = Object.entries(definition.labels ?? {});
  const policy = { ...DEFAULT_POLICY, ...(definition.policy ?? {}) };
  return (
    <Stack spacing={3}>
      <Section title="Definition" id="section-definition">
        <Field label="Description">{definition.description || <Typography color="text.secondary">none</Typography>}</Field>
        <Field label="Default targets">
          {definition.default_selector ? <code>{definition.default_selector}</code> : <Typography color="text.secondary">none: each launch names its targets</Typography>}
        </Field>
        <Field label="Labels">
          {labels.length === 0 ? (
            <Typography color="text.secondary">none</Typography>
          ) : (
            <Box sx={{ display: "flex", flexWrap: "wrap", gap: 0.5 }}>
              {labels.map(([name, value]) => (
                <Chip key={name} size="small" label={value ? `${name}=${value}` : name} />
              ))}
            </Box>
          )}
        </Field>
      </Section>
      <Section title={`Parameters (${definition.parameters.length})`} id="section-parameters">
        <ParametersTable parameters={definition.parameters} />
      </Section>
      <Section title={`Steps (${definition.steps.length})`} id="section-steps">
        <Stack spacing={2}>
          {definition.steps.map((step, index) => (
            <StepView key={step.name} step={step} index={index} />
          ))}
        </Stack>
      </Section>
      <Section title="Policy" id="section-policy">
        {(Object.keys(POLICY_LABELS) as (keyof Policy)[]).map((name) => (
          <Field key={name} label={POLICY_LABELS[name]}>
            {policyValue(name, policy[name])}
          </Field>
        ))}
      </Section>
    </Stack>
  );
}
