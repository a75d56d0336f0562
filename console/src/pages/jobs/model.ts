// The job definition format (docs/jobs.md) as the console edits it, and the conversions between
// the API's shape and the editor's drafts (every list item carries a key of its own so React
// keeps inputs in place when steps are moved).
import type { components } from "../../api/client";

export type Job = components["schemas"]["Job"];

export const STEP_KINDS = ["command", "script", "upload"] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const KIND_LABELS: Record<StepKind, string> = {
  command: "Command",
  script: "Script",
  upload: "Upload a file",
};
export const INTERPRETERS = ["sh", "bash", "python3", "powershell"] as const;
export const OS_FAMILIES = ["any", "linux", "windows"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

export const PARAMETER_TYPES = ["string", "integer", "boolean", "choice", "secret", "target_selector"] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];
export const TYPE_LABELS: Record<ParameterType, string> = {
  string: "String",
  integer: "Integer",
  boolean: "Boolean",
  choice: "Choice",
  secret: "Secret",
  target_selector: "Target selector",
};

/** The mask the API shows in place of a stored secret default; sent back, it keeps the secret. */
export const MASK = "********";

export interface Step {
  name: string;
  kind: StepKind;
  command?: string;
  interpreter?: string;
  script?: string;
  path?: string;
  mode?: string;
  content?: string;
  timeout_seconds: number;
  continue_on_error: boolean;
  os_family: OsFamily;
  env: Record<string, string>;
  workdir: string;
}

export interface Parameter {
  name: string;
  type: ParameterType;
  required?: boolean;
  default?: unknown;
  description?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  choices?: string[];
  allow_unused?: boolean;
}

export interface Policy {
  max_parallel: number;
  batch_size: number | null;
  failure_threshold: number | null;
  failure_threshold_percent: number | null;
  run_timeout_seconds: number;
  connection_retries: number;
  retry_backoff_seconds: number;
  allow_overlap: boolean;
}

export interface Definition {
  name: string;
  description: string;
  labels: Record<string, string>;
  default_selector: string;
  policy: Policy;
  parameters: Parameter[];
  steps: Step[];
}

export const DEFAULT_POLICY: Policy = {
  max_parallel: 20,
  batch_size: null,
  failure_threshold: null,
  failure_threshold_percent: null,
  run_timeout_seconds: 3600,
  connection_retries: 0,
  retry_backoff_seconds: 5,
  allow_overlap: false,
};

// --- Drafts: what the inputs hold (numbers as typed text, maps as ordered pairs) ---------------

let counter = 0;
export function newKey(): string {
  counter += 1;
  return `k${counter}`;
}

export interface Pair {
  key: string;
  name: string;
  value: string;
}

export interface StepDraft {
  key: string;
  name: string;
  kind: StepKind;
  command: string;
  interpreter: string;
  script: string;
  path: string;
  mode: string;
  content: string;
  timeout_seconds: string;
  continue_on_error: boolean;
  os_family: OsFamily;
  env: Pair[];
  workdir: string;
}

/** How a secret's default is handled on save: kept as stored, replaced, or removed. */
export type SecretDefault = "none" | "keep" | "replace";

export interface ParameterDraft {
  key: string;
  name: string;
  type: ParameterType;
  required: boolean;
  description: string;
  /** The default as typed ("" for none); for a boolean "true"/"false"/"". */
  default: string;
  /** For a secret: whether a stored default is kept, replaced by `default`, or none. */
  secretDefault: SecretDefault;
  /** Whether the saved job holds a default for this secret (shown only as such). */
  storedSecret: boolean;
  /** The name it was loaded with: a stored secret default stays with that name only. */
  originalName: string;
  pattern: string;
  minimum: string;
  maximum: string;
  /** One choice per line. */
  choices: string;
  allow_unused: boolean;
}

export interface PolicyDraft {
  max_parallel: string;
  batch_size: string;
  failure_threshold: string;
  failure_threshold_percent: string;
  run_timeout_seconds: string;
  connection_retries: string;
  retry_backoff_seconds: string;
  allow_overlap: boolean;
}

export interface Draft {
  name: string;
  description: string;
  labels: Pair[];
  default_selector: string;
  policy: PolicyDraft;
  parameters: ParameterDraft[];
  steps: StepDraft[];
}

export function emptyStep(kind: StepKind = "command", name = ""): StepDraft {
  return {
    key: newKey(),
    name,
    kind,
    command: "",
    interpreter: kind === "script" ? "bash" : "",
    script: "",
    path: "",
    mode: "",
    content: "",
    timeout_seconds: "600",
    continue_on_error: false,
    os_family: "any",
    env: [],
    workdir: "",
  };
}

export function emptyParameter(name = ""): ParameterDraft {
  return {
    key: newKey(),
    name,
    type: "string",
    required: true,
    description: "",
    default: "",
    secretDefault: "none",
    storedSecret: false,
    originalName: "",
    pattern: "",
    minimum: "",
    maximum: "",
    choices: "",
    allow_unused: false,
  };
}

const text = (value: unknown): string => (value === null || value === undefined ? "" : String(value));

function pairs(map: unknown): Pair[] {
  if (!map || typeof map !== "object") return [];
  return Object.entries(map as Record<string, unknown>).map(([name, value]) => ({
    key: newKey(),
    name,
    value: text(value),
  }));
}

export function policyDraft(policy: Partial<Policy> | undefined): PolicyDraft {
  const p = { ...DEFAULT_POLICY, ...(policy ?? {}) };
  return {
    max_parallel: text(p.max_parallel),
    batch_size: text(p.batch_size),
    failure_threshold: text(p.failure_threshold),
    failure_threshold_percent: text(p.failure_threshold_percent),
    run_timeout_seconds: text(p.run_timeout_seconds),
    connection_retries: text(p.connection_retries),
    retry_backoff_seconds: text(p.retry_backoff_seconds),
    allow_overlap: Boolean(p.allow_overlap),
  };
}

export function stepDraft(step: Partial<Step>): StepDraft {
  const kind = (step.kind ?? "command") as StepKind;
  return {
    ...emptyStep(kind, step.name ?? ""),
    command: text(step.command),
    interpreter: text(step.interpreter) || (kind === "script" ? "bash" : ""),
    script: text(step.script),
    path: text(step.path),
    mode: text(step.mode),
    content: text(step.content),
    timeout_seconds: text(step.timeout_seconds ?? 600),
    continue_on_error: Boolean(step.continue_on_error),
    os_family: (step.os_family ?? "any") as OsFamily,
    env: pairs(step.env),
    workdir: text(step.workdir),
  };
}

export function parameterDraft(parameter: Partial<Parameter>): ParameterDraft {
  const type = (parameter.type ?? "string") as ParameterType;
  const stored = type === "secret" && parameter.default === MASK;
  return {
    ...emptyParameter(parameter.name ?? ""),
    type,
    required: parameter.required ?? true,
    description: text(parameter.description),
    // a secret's default is never shown: only whether one is stored
    default: type === "secret" ? "" : text(parameter.default),
    secretDefault: stored ? "keep" : "none",
    storedSecret: stored,
    originalName: parameter.name ?? "",
    pattern: text(parameter.pattern),
    minimum: text(parameter.minimum),
    maximum: text(parameter.maximum),
    choices: (parameter.choices ?? []).join("\n"),
    allow_unused: Boolean(parameter.allow_unused),
  };
}

export function emptyDraft(): Draft {
  return {
    name: "",
    description: "",
    labels: [],
    default_selector: "",
    policy: policyDraft(undefined),
    parameters: [],
    steps: [emptyStep("command", "step-1")],
  };
}

/** The editor's draft of a job as the API shows it (secret defaults masked). */
export function draftOf(job: Pick<Job, "name" | "description" | "labels" | "default_selector" | "policy" | "parameters" | "steps">): Draft {
  return {
    name: job.name,
    description: job.description ?? "",
    labels: pairs(job.labels),
    default_selector: job.default_selector ?? "",
    policy: policyDraft(job.policy as Partial<Policy>),
    parameters: (job.parameters as unknown as Parameter[]).map(parameterDraft),
    steps: (job.steps as unknown as Step[]).map(stepDraft),
  };
}

/** An integer when the text is one; otherwise the text itself, so the API names the field. */
export function integerOrText(value: string): number | string {
  const trimmed = value.trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : value;
}

function nullableInteger(value: string): number | string | null {
  return value.trim() === "" ? null : integerOrText(value);
}

function mapOf(list: Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list) if (pair.name.trim() !== "" || pair.value !== "") out[pair.name.trim()] = pair.value;
  return out;
}

export function stepBody(step: StepDraft): Record<string, unknown> {
  const body: Record<string, unknown> = { name: step.name, kind: step.kind };
  if (step.kind === "command") body.command = step.command;
  if (step.kind === "script") Object.assign(body, { interpreter: step.interpreter, script: step.script });
  if (step.kind === "upload") {
    Object.assign(body, { path: step.path, content: step.content });
    if (step.mode.trim()) body.mode = step.mode.trim();
  }
  return {
    ...body,
    timeout_seconds: integerOrText(step.timeout_seconds),
    continue_on_error: step.continue_on_error,
    os_family: step.os_family,
    env: mapOf(step.env),
    workdir: step.workdir,
  };
}

export function choicesOf(draft: Pick<ParameterDraft, "choices">): string[] {
  return draft.choices
    .split("\n")
    .map((choice) => choice.trim())
    .filter((choice) => choice !== "");
}

/** A stored secret default is kept by name: renamed, it cannot follow. */
export function canKeepSecret(p: ParameterDraft): boolean {
  return p.type === "secret" && p.storedSecret && p.name === p.originalName;
}

export function parameterBody(p: ParameterDraft): Record<string, unknown> {
  const body: Record<string, unknown> = { name: p.name, type: p.type, required: p.required };
  if (p.description) body.description = p.description;
  if (p.allow_unused) body.allow_unused = true;
  if ((p.type === "string" || p.type === "secret") && p.pattern) body.pattern = p.pattern;
  if (p.type === "integer") {
    if (p.minimum.trim()) body.minimum = integerOrText(p.minimum);
    if (p.maximum.trim()) body.maximum = integerOrText(p.maximum);
  }
  if (p.type === "choice") body.choices = choicesOf(p);
  if (p.type === "secret") {
    if (p.secretDefault === "keep" && canKeepSecret(p)) body.default = MASK;
    else if (p.secretDefault === "replace" && p.default !== "") body.default = p.default;
  } else if (p.type === "boolean") {
    if (p.default === "true" || p.default === "false") body.default = p.default === "true";
  } else if (p.type === "integer") {
    if (p.default.trim() !== "") body.default = integerOrText(p.default);
  } else if (p.default !== "") {
    body.default = p.default;
  }
  return body;
}

/** The definition the API takes, from the editor's draft. */
export function definitionOf(draft: Draft): Record<string, unknown> {
  const p = draft.policy;
  return {
    name: draft.name,
    description: draft.description,
    labels: mapOf(draft.labels),
    default_selector: draft.default_selector,
    policy: {
      max_parallel: integerOrText(p.max_parallel),
      batch_size: nullableInteger(p.batch_size),
      failure_threshold: nullableInteger(p.failure_threshold),
      failure_threshold_percent: nullableInteger(p.failure_threshold_percent),
      run_timeout_seconds: integerOrText(p.run_timeout_seconds),
      connection_retries: integerOrText(p.connection_retries),
      retry_backoff_seconds: integerOrText(p.retry_backoff_seconds),
      allow_overlap: p.allow_overlap,
    },
    parameters: draft.parameters.map(parameterBody),
    steps: draft.steps.map(stepBody),
  };
}

// --- Field errors --------------------------------------------------------------------------------

export type FieldErrors = Record<string, string[]>;

/** The messages at `path` (joined), or undefined: for a TextField's helperText. */
export function messageAt(errors: FieldErrors | undefined, path: string): string | undefined {
  const messages = errors?.[path];
  return messages && messages.length > 0 ? messages.join(" ") : undefined;
}

/** The messages at `path` and below it (an env map's keys, ...). */
export function messagesUnder(errors: FieldErrors | undefined, path: string): string[] {
  if (!errors) return [];
  return Object.entries(errors)
    .filter(([key]) => key === path || key.startsWith(`${path}.`))
    .flatMap(([key, messages]) => (key === path ? messages : messages.map((m) => `${key.slice(path.length + 1)}: ${m}`)));
}

const STEP_FIELDS: Record<StepKind, string[]> = {
  command: ["command"],
  script: ["interpreter", "script"],
  upload: ["path", "mode", "content"],
};
const STEP_COMMON = ["name", "kind", "timeout_seconds", "continue_on_error", "os_family", "env", "workdir", "non_field_errors", "__all__"];
const PARAMETER_OPTIONS: Record<ParameterType, string[]> = {
  string: ["pattern"],
  secret: ["pattern", "default_sealed"],
  integer: ["minimum", "maximum"],
  boolean: [],
  choice: ["choices"],
  target_selector: [],
};
const PARAMETER_COMMON = ["name", "type", "required", "default", "description", "allow_unused", "non_field_errors", "__all__"];
const POLICY_FIELDS = Object.keys(DEFAULT_POLICY);
const TOP_FIELDS = ["name", "description", "labels", "default_selector", "steps", "parameters", "policy"];

/** Whether the editor shows an error at `path` next to an input (else the alert lists it). */
export function shownInEditor(draft: Draft, path: string): boolean {
  const parts = path.split(".");
  if (parts.length === 1) return TOP_FIELDS.includes(path);
  const [section, index, field] = parts;
  if (section === "labels") return true;
  if (section === "policy") return parts.length === 2 && POLICY_FIELDS.includes(index);
  if (section === "steps") {
    const step = draft.steps[Number(index)];
    if (!step) return false;
    if (field === undefined) return true;
    if (field === "env") return true;
    return parts.length === 3 && (STEP_COMMON.includes(field) || STEP_FIELDS[step.kind].includes(field));
  }
  if (section === "parameters") {
    const parameter = draft.parameters[Number(index)];
    if (!parameter) return false;
    if (field === undefined) return true;
    return parts.length === 3 && (PARAMETER_COMMON.includes(field) || PARAMETER_OPTIONS[parameter.type].includes(field));
  }
  return false;
}
