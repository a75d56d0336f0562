// /jobs/new and /jobs/:id/edit: a job's whole definition (general fields, parameters, steps,
// policy). Saving sends it to the API, which checks everything and names every problem by
// field: each is shown at its input, and any the page has no input for in the alert.
import { Alert, Box, Button, Stack, TextField } from "@mui/material";
import Save from "@mui/icons-material/Save";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton, useCan } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { PairsEditor } from "./PairsEditor";
import { Section } from "./Section";
import { ParametersEditor } from "./ParametersEditor";
import { PolicyEditor } from "./PolicyEditor";
import { StepsEditor } from "./StepsEditor";
import {
  definitionOf,
  draftOf,
  emptyDraft,
  messageAt,
  messagesUnder,
  shownInEditor,
  type Draft,
  type FieldErrors,
} from "./model";
import { useJob, useSaveJob } from "./queries";

const keysOf = (items: { key: string }[]) => items.map((item) => item.key).join(",");

/** Errors of a section dropped when its items move or go (their indexes no longer fit). */
function withoutSection(errors: FieldErrors, section: string): FieldErrors {
  return Object.fromEntries(Object.entries(errors).filter(([key]) => !key.startsWith(`${section}.`)));
}

export function JobForm({
  initial,
  jobId,
  archived,
}: {
  initial: Draft;
  jobId?: string;
  archived?: boolean;
}) {
  const navigate = useNavigate();
  const save = useSaveJob(jobId);
  const mayEdit = useCan("editJobs");
  const [draft, setDraft] = useState<Draft>(initial);
  const [message, setMessage] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const disabled = save.isPending || archived || !mayEdit;
  const dirty = draft !== initial || message !== "";

  // leaving the page (reload, closing the tab) with unsaved changes asks first
  useEffect(() => {
    if (!dirty || save.isSuccess) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty, save.isSuccess]);

  const update = (change: Partial<Draft>) => {
    let next = errors;
    if (change.steps && keysOf(change.steps) !== keysOf(draft.steps)) next = withoutSection(next, "steps");
    if (change.parameters && keysOf(change.parameters) !== keysOf(draft.parameters)) next = withoutSection(next, "parameters");
    if (next !== errors) setErrors(next);
    setDraft({ ...draft, ...change });
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setErrors({});
    try {
      const job = await save.mutateAsync({ body: definitionOf(draft), message });
      // secrets typed into the form go with the page
      setDraft((current) => ({
        ...current,
        parameters: current.parameters.map((p) => (p.type === "secret" ? { ...p, default: "" } : p)),
      }));
      navigate(`/jobs/${job.id}`);
    } catch (exc) {
      setError(exc);
      if (exc instanceof ApiError) setErrors(exc.fields);
      window.scrollTo?.({ top: 0, behavior: "smooth" });
    }
  };

  const shown = useMemo(() => Object.keys(errors).filter((path) => shownInEditor(draft, path)), [errors, draft]);
  const at = (path: string) => messageAt(errors, path);
  const cancelTo = jobId ? `/jobs/${jobId}` : "/jobs";

  const actions = (
    <>
      <Button component={Link} to={cancelTo}>
        Cancel
      </Button>
      <GatedButton needs="editJobs" type="submit" variant="contained" startIcon={<Save />} disabled={disabled}>
        {save.isPending ? "Saving…" : jobId ? "Save as a new version" : "Create job"}
      </GatedButton>
    </>
  );

  return (
    <Box component="form" onSubmit={submit} noValidate aria-label={jobId ? "Edit job" : "New job"}>
      <PageHeader
        title={jobId ? `Edit ${initial.name}` : "New job"}
        subtitle={jobId ? "Saving makes a new version; runs already started keep theirs." : "A reusable definition of work: steps, parameters, where and how it runs."}
        actions={actions}
      />
      <Stack spacing={3}>
        {archived ? (
          <Alert severity="warning">This job is archived: unarchive it on its page before changing it.</Alert>
        ) : null}
        {error ? <ErrorAlert error={error} shownFields={shown} onClose={() => setError(null)} /> : null}
        <Section title="General" id="section-general">
          <Stack spacing={2}>
            <TextField
              label="Name"
              required
              value={draft.name}
              disabled={disabled}
              onChange={(event) => update({ name: event.target.value })}
              error={Boolean(at("name"))}
              helperText={at("name") ?? "Unique among jobs."}
              fullWidth
            />
            <TextField
              label="Description"
              multiline
              minRows={2}
              value={draft.description}
              disabled={disabled}
              onChange={(event) => update({ description: event.target.value })}
              error={Boolean(at("description"))}
              helperText={at("description")}
              fullWidth
            />
            <TextField
              label="Default target selector"
              value={draft.default_selector}
              disabled={disabled}
              onChange={(event) => update({ default_selector: event.target.value })}
              error={Boolean(at("default_selector"))}
              helperText={at("default_selector") ?? "Where runs go unless the launch names other targets, e.g. env=production and tag:web."}
              slotProps={{ htmlInput: { style: { fontFamily: "monospace" }, spellCheck: false } }}
              fullWidth
            />
            <PairsEditor
              label="Labels"
              nameLabel="Label"
              valueLabel="Value"
              pairs={draft.labels}
              onChange={(labels) => update({ labels })}
              errors={messagesUnder(errors, "labels")}
              disabled={disabled}
            />
          </Stack>
        </Section>
        <Section
          title="Parameters"
          id="section-parameters"
          description="Values asked for at launch, checked by type before anything runs."
        >
          <ParametersEditor
            parameters={draft.parameters}
            onChange={(parameters) => update({ parameters })}
            errors={errors}
            disabled={disabled}
          />
        </Section>
        <Section title="Steps" id="section-steps" description="Run in order on every target.">
          <StepsEditor steps={draft.steps} onChange={(steps) => update({ steps })} errors={errors} disabled={disabled} />
        </Section>
        <Section title="Policy" id="section-policy" description="Defaults for runs; each run may override them.">
          <PolicyEditor policy={draft.policy} onChange={(policy) => update({ policy })} errors={errors} disabled={disabled} />
        </Section>
        {jobId ? (
          <TextField
            label="Change message"
            value={message}
            disabled={disabled}
            onChange={(event) => setMessage(event.target.value)}
            helperText="Optional: why, shown in the version history."
            slotProps={{ htmlInput: { maxLength: 500 } }}
            fullWidth
          />
        ) : null}
        <Stack direction="row" spacing={1} justifyContent="flex-end">
          {actions}
        </Stack>
      </Stack>
    </Box>
  );
}

export default function JobEditorPage() {
  const { id } = useParams();
  if (!id) return <JobForm initial={emptyDraft()} />;
  return <EditExisting id={id} />;
}

function EditExisting({ id }: { id: string }) {
  const job = useJob(id);
  if (job.isPending) return <PageLoading label="Loading the job" />;
  if (job.isError) {
    return (
      <>
        <PageHeader title="Edit job" />
        <ErrorAlert error={job.error} />
      </>
    );
  }
  // keyed by version: a newer version loaded elsewhere starts a fresh draft
  return <JobForm key={`${id}:${job.data.version}`} initial={draftOf(job.data)} jobId={id} archived={job.data.archived} />;
}
