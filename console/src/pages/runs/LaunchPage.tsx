// Launch a job: a form made from its typed parameters (string, integer, boolean, choice,
// secret, target selector), the targets to run on, optional overrides of its run policy; then
// straight to the live run. Secret values are never echoed and are dropped once sent.
import {
  Accordion,
  AccordionDetails,
  AccordionSummary,
  Alert,
  Button,
  Checkbox,
  FormControlLabel,
  Paper,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import ExpandMore from "@mui/icons-material/ExpandMore";
import PlayArrow from "@mui/icons-material/PlayArrow";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, ApiError, unwrap } from "../../api/client";
import { useCan } from "../../components/Gated";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { SelectorField } from "../../components/SelectorField";
import { initialValues, parameterPayload, ParameterField, type ParameterSpec, type Values } from "../../components/ParameterFields";

/** The run policy fields a launch may override, with what they mean (docs/execution.md). */
export const POLICY_FIELDS: { name: string; label: string; help: string; kind: "int" | "bool" }[] = [
  { name: "max_parallel", label: "Targets at a time", help: "At most this many targets queued or running at once.", kind: "int" },
  { name: "batch_size", label: "Batch size", help: "Rolling batches: this many targets at a time, a batch after the previous one.", kind: "int" },
  { name: "failure_threshold", label: "Stop after failures", help: "When more than this many targets failed, the rest are skipped.", kind: "int" },
  { name: "failure_threshold_percent", label: "Stop after failures (%)", help: "The same, as a percentage of the run's targets.", kind: "int" },
  { name: "run_timeout_seconds", label: "Run timeout (s)", help: "The run is stopped after this long.", kind: "int" },
  { name: "connection_retries", label: "Connection retries", help: "An unreachable target is tried again this many times.", kind: "int" },
  { name: "retry_backoff_seconds", label: "Retry backoff (s)", help: "Wait before the first retry, doubled each time.", kind: "int" },
  { name: "allow_overlap", label: "Allow overlapping runs", help: "Start even while another run of this job is going.", kind: "bool" },
];

export { initialValues, parameterPayload, ParameterField } from "../../components/ParameterFields";
export type { ParameterSpec, Values } from "../../components/ParameterFields";

export default function LaunchPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const allowed = useCan("launch");
  const job = useQuery({
    queryKey: ["jobs", id],
    queryFn: () => unwrap(api.GET("/api/v1/jobs/{id}/", { params: { path: { id } } })),
  });
  const parameters = (job.data?.parameters ?? []) as unknown as ParameterSpec[];
  const policy = (job.data?.policy ?? {}) as Record<string, unknown>;
  const [values, setValues] = useState<Values | null>(null);
  const [selector, setSelector] = useState<string | null>(null);
  const [overrides, setOverrides] = useState<Record<string, string | boolean>>({});
  const launch = useMutation({
    mutationFn: (body: { job: string; parameters: Record<string, unknown>; selector: string; policy: Record<string, unknown> }) =>
      unwrap(api.POST("/api/v1/runs/", { body: body as never })),
    onSuccess: (run) => navigate(`/runs/${run.id}`),
    onSettled: () =>
      // secrets are not kept in the page once sent, whatever the answer
      setValues((current) =>
        current ? Object.fromEntries(Object.entries(current).map(([name, value]) => [name, parameters.find((p) => p.name === name)?.type === "secret" ? "" : value])) : current,
      ),
  });

  if (job.isPending) return <PageLoading />;
  if (job.error) return <ErrorAlert error={job.error} />;
  const current = values ?? initialValues(parameters);
  const target = selector ?? job.data.default_selector ?? "";
  const error = launch.error instanceof ApiError ? launch.error : null;
  const fieldErrors = (path: string) => error?.fieldErrors(path) ?? [];

  function submit(event: FormEvent) {
    event.preventDefault();
    const policyPayload: Record<string, unknown> = {};
    for (const field of POLICY_FIELDS) {
      const value = overrides[field.name];
      if (value === undefined || value === "") continue;
      policyPayload[field.name] = field.kind === "bool" ? value === true || value === "true" : /^-?\d+$/.test(String(value)) ? Number(value) : value;
    }
    launch.mutate({ job: id, parameters: parameterPayload(parameters, current), selector: target, policy: policyPayload });
  }

  return (
    <>
      <PageHeader
        title={`Launch ${job.data.name}`}
        subtitle={
          <>
            Version {job.data.version} · <Link to={`/jobs/${id}`}>the job</Link>
          </>
        }
      />
      {!allowed ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          Launching jobs needs the operator role or above. You can read this form; the server
          refuses the launch.
        </Alert>
      ) : null}
      {job.data.archived ? (
        <Alert severity="warning" sx={{ mb: 2 }}>
          This job is archived: restore it to run it.
        </Alert>
      ) : null}
      <Paper variant="outlined" sx={{ p: 3, maxWidth: 880 }}>
        <Stack component="form" spacing={3} onSubmit={submit} noValidate>
          {error ? (
            <ErrorAlert
              error={error}
              shownFields={["selector", "policy", ...parameters.map((parameter) => `parameters.${parameter.name}`)]}
            />
          ) : null}
          <section aria-labelledby="targets-heading">
            <Typography id="targets-heading" variant="h6" component="h2" sx={{ mb: 1 }}>
              Targets
            </Typography>
            <SelectorField
              id="run-selector"
              label="Run on (selector)"
              value={target}
              onChange={(value) => setSelector(value)}
              errors={fieldErrors("selector")}
              helperText={job.data.default_selector ? `The job's default: ${job.data.default_selector}` : "Say which targets to run on."}
            />
          </section>
          {parameters.length ? (
            <section aria-labelledby="parameters-heading">
              <Typography id="parameters-heading" variant="h6" component="h2" sx={{ mb: 1 }}>
                Parameters
              </Typography>
              <Stack spacing={2}>
                {parameters.map((parameter) => (
                  <ParameterField
                    key={parameter.name}
                    parameter={parameter}
                    value={current[parameter.name] ?? ""}
                    onChange={(value) => setValues({ ...current, [parameter.name]: value })}
                    errors={fieldErrors(`parameters.${parameter.name}`)}
                  />
                ))}
              </Stack>
            </section>
          ) : null}
          <Accordion variant="outlined" disableGutters>
            <AccordionSummary expandIcon={<ExpandMore />} aria-controls="policy-content" id="policy-header">
              <Typography component="h2" variant="subtitle1">
                Policy overrides (optional)
              </Typography>
            </AccordionSummary>
            <AccordionDetails id="policy-content">
              <Stack spacing={2}>
                {POLICY_FIELDS.map((field) =>
                  field.kind === "bool" ? (
                    <FormControlLabel
                      key={field.name}
                      control={
                        <Checkbox
                          checked={overrides[field.name] === undefined ? Boolean(policy[field.name]) : overrides[field.name] === true}
                          onChange={(event) => setOverrides({ ...overrides, [field.name]: event.target.checked })}
                        />
                      }
                      label={`${field.label}: ${field.help}`}
                    />
                  ) : (
                    <TextField
                      key={field.name}
                      label={field.label}
                      type="number"
                      value={String(overrides[field.name] ?? "")}
                      placeholder={policy[field.name] === null || policy[field.name] === undefined ? "not set" : String(policy[field.name])}
                      onChange={(event) => setOverrides({ ...overrides, [field.name]: event.target.value })}
                      error={fieldErrors(`policy.${field.name}`).length > 0}
                      helperText={fieldErrors(`policy.${field.name}`).join(" ") || `${field.help} The job's: ${policy[field.name] ?? "not set"}.`}
                      slotProps={{ inputLabel: { shrink: true } }}
                    />
                  ),
                )}
              </Stack>
            </AccordionDetails>
          </Accordion>
          <Stack direction="row" spacing={2}>
            <Button type="submit" variant="contained" size="large" startIcon={<PlayArrow />} disabled={launch.isPending || !allowed || job.data.archived}>
              {launch.isPending ? "Launching…" : "Launch"}
            </Button>
            <Button component={Link} to={`/jobs/${id}`}>
              Back to the job
            </Button>
          </Stack>
        </Stack>
      </Paper>
    </>
  );
}
