// /schedules/new (?job=<id>) and /schedules/:id/edit: every kind the API has (cron, interval,
// calendar, once) in an IANA zone, start/end, maximum firings, misfire and overlap policies,
// the job (its latest or a pinned version), its typed parameters (secrets write-only) and the
// targets; beside it, a live preview of the next fire times with the DST rule that applied.
import {
  Alert,
  Autocomplete,
  Box,
  Button,
  Checkbox,
  FormControl,
  FormControlLabel,
  FormGroup,
  FormHelperText,
  FormLabel,
  Grid,
  InputLabel,
  LinearProgress,
  MenuItem,
  Paper,
  Radio,
  RadioGroup,
  Select,
  Stack,
  Switch,
  TextField,
  Typography,
} from "@mui/material";
import Save from "@mui/icons-material/Save";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, ApiError, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useCan } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { initialValues, parameterPayload, ParameterField, type ParameterSpec, type Values } from "../../components/ParameterFields";
import { SelectorField } from "../../components/SelectorField";
import {
  emptyForm,
  formFromSchedule,
  FREQUENCIES,
  KINDS,
  MISFIRE,
  OVERLAP,
  schedulePayload,
  timeZones,
  timingPayload,
  UNITS,
  valuesFromSchedule,
  WEEKDAYS,
  type Schedule,
  type ScheduleForm,
} from "./model";
import { PreviewList } from "./PreviewList";

const PREVIEW_COUNT = 10;

function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  const key = JSON.stringify(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setCurrent(JSON.parse(key) as T), ms);
    return () => window.clearTimeout(timer);
  }, [key, ms]);
  return current;
}

export default function ScheduleEditorPage() {
  const { id } = useParams();
  const schedule = useQuery({
    queryKey: ["schedules", id],
    queryFn: () => unwrap(api.GET("/api/v1/schedules/{id}/", { params: { path: { id: id ?? "" } } })),
    enabled: Boolean(id),
  });
  if (id && schedule.isPending) return <PageLoading label="Loading the schedule" />;
  if (id && schedule.error) {
    return (
      <>
        <PageHeader title="Edit schedule" />
        <ErrorAlert error={schedule.error} />
      </>
    );
  }
  return <Editor key={id ?? "new"} schedule={id ? (schedule.data ?? null) : null} />;
}

function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <Box component="section" aria-labelledby={id}>
      <Typography id={id} variant="h6" component="h2" sx={{ mb: 1.5 }}>
        {title}
      </Typography>
      <Stack spacing={2}>{children}</Stack>
    </Box>
  );
}

function Editor({ schedule }: { schedule: Schedule | null }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [params] = useSearchParams();
  const allowed = useCan("editSchedules");
  const [form, setForm] = useState<ScheduleForm>(() => (schedule ? formFromSchedule(schedule) : emptyForm(params.get("job") ?? "")));
  const [values, setValues] = useState<Values | null>(null);
  const update = (changes: Partial<ScheduleForm>) => setForm((current) => ({ ...current, ...changes }));

  const jobs = useQuery({
    queryKey: ["jobs", "names", "active"],
    queryFn: () => unwrap(api.GET("/api/v1/jobs/", { params: { query: { page_size: 200, ordering: "name", archived: false } } })),
    staleTime: 60_000,
  });
  const job = useQuery({
    queryKey: ["jobs", form.job],
    queryFn: () => unwrap(api.GET("/api/v1/jobs/{id}/", { params: { path: { id: form.job } } })),
    enabled: Boolean(form.job),
  });
  const parameters = (job.data?.parameters ?? []) as unknown as ParameterSpec[];
  const stored = (schedule?.parameters ?? null) as Record<string, unknown> | null;
  const current =
    values ?? (schedule && schedule.job === form.job ? valuesFromSchedule(parameters, stored ?? {}, initialValues(parameters)) : initialValues(parameters));

  // the preview follows the definition as it is typed (after a short pause)
  const timing = useDebounced(timingPayload(form), 400);
  const preview = useQuery({
    queryKey: ["schedules", "preview", timing],
    queryFn: () => unwrap(api.POST("/api/v1/schedules/preview/", { body: { ...timing, count: PREVIEW_COUNT } as never })),
    retry: false,
    placeholderData: (previous) => previous,
  });

  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      schedule
        ? unwrap(api.PUT("/api/v1/schedules/{id}/", { params: { path: { id: schedule.id } }, body: body as never }))
        : unwrap(api.POST("/api/v1/schedules/", { body: body as never })),
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ["schedules"] });
      navigate(`/schedules/${saved.id}`);
    },
    onSettled: () =>
      // secrets are not kept in the page once sent, whatever the answer
      setValues((now) =>
        now ? Object.fromEntries(Object.entries(now).map(([name, value]) => [name, parameters.find((p) => p.name === name)?.type === "secret" ? "" : value])) : now,
      ),
  });
  const error = save.error instanceof ApiError ? save.error : null;
  const errorsAt = (path: string) => error?.fieldErrors(path) ?? [];
  const field = (path: string, help?: ReactNode) => ({
    error: errorsAt(path).length > 0,
    helperText: errorsAt(path).length ? errorsAt(path).join(" ") : help,
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate(schedulePayload(form, parameters, current, stored, parameterPayload));
  }

  const zone = form.timezone || "UTC";
  const previewItems = preview.data?.items ?? [];
  const maxFirings = /^\d+$/.test(form.maxFirings) ? Number(form.maxFirings) : null;
  const shown = maxFirings !== null && !schedule ? previewItems.slice(0, maxFirings) : previewItems;
  const previewError = preview.error instanceof ApiError ? preview.error : preview.error;
  const latest = job.data?.version ?? 0;
  const shownFields = [
    "name", "description", "job", "job_version", "selector", "kind", "cron", "interval_every", "interval_unit",
    "run_at", "frequency", "every", "time_of_day", "days_of_week", "day_of_month", "timezone", "start_at", "end_at",
    "max_firings", "misfire_policy", "misfire_grace_seconds", "overlap_policy",
    ...parameters.map((parameter) => `parameters.${parameter.name}`),
  ];

  return (
    <>
      <PageHeader
        title={schedule ? `Edit ${schedule.name}` : "New schedule"}
        subtitle={
          schedule ? (
            <>
              Revision {schedule.revision} · <Link to={`/schedules/${schedule.id}`}>the schedule</Link>
            </>
          ) : (
            "Run a job by itself: at times written in a time zone of your choice."
          )
        }
      />
      {!allowed ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          Changing schedules needs the manager role or above. You can read this form and its preview; the server refuses
          the change.
        </Alert>
      ) : null}
      <Grid container spacing={3} alignItems="flex-start">
        <Grid size={{ xs: 12, md: 7 }}>
          <Paper variant="outlined" sx={{ p: 3 }}>
            <Stack component="form" spacing={4} onSubmit={submit} noValidate aria-label="Schedule">
              {error ? <ErrorAlert error={error} shownFields={shownFields} /> : null}
              <Section id="what-heading" title="What runs">
                <TextField label="Name" required value={form.name} onChange={(event) => update({ name: event.target.value })} {...field("name")} fullWidth />
                <TextField label="Description" value={form.description} onChange={(event) => update({ description: event.target.value })} {...field("description")} fullWidth multiline minRows={1} />
                <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
                  <FormControl fullWidth error={errorsAt("job").length > 0} required>
                    <InputLabel id="schedule-job-label">Job</InputLabel>
                    <Select
                      labelId="schedule-job-label"
                      label="Job"
                      value={form.job && (jobs.data?.results ?? []).some((item) => item.id === form.job) ? form.job : ""}
                      onChange={(event) => {
                        update({ job: event.target.value, jobVersion: "" });
                        setValues(null);
                      }}
                    >
                      {(jobs.data?.results ?? []).map((item) => (
                        <MenuItem key={item.id} value={item.id}>
                          {item.name}
                        </MenuItem>
                      ))}
                    </Select>
                    <FormHelperText>
                      {errorsAt("job").join(" ") ||
                        (jobs.data && jobs.data.results.length === 0 ? "No jobs yet: create a job first." : "The job this schedule runs.")}
                    </FormHelperText>
                  </FormControl>
                  <FormControl fullWidth error={errorsAt("job_version").length > 0} disabled={!job.data}>
                    <InputLabel id="schedule-version-label">Version</InputLabel>
                    <Select labelId="schedule-version-label" label="Version" value={form.jobVersion} onChange={(event) => update({ jobVersion: event.target.value })}>
                      <MenuItem value="">The latest, when it fires</MenuItem>
                      {Array.from({ length: latest }, (_, index) => latest - index).map((version) => (
                        <MenuItem key={version} value={String(version)}>
                          Pinned: version {version}
                        </MenuItem>
                      ))}
                    </Select>
                    <FormHelperText>{errorsAt("job_version").join(" ") || "Pin a version to keep running it after the job changes."}</FormHelperText>
                  </FormControl>
                </Stack>
                {job.error ? <ErrorAlert error={job.error} /> : null}
                <SelectorField
                  id="schedule-selector"
                  label="Run on (selector)"
                  value={form.selector}
                  onChange={(value) => update({ selector: value })}
                  errors={errorsAt("selector")}
                  helperText={job.data?.default_selector ? `Empty: the job's default, ${job.data.default_selector}` : "Say which targets to run on."}
                />
                {parameters.length ? (
                  <Box component="fieldset" sx={{ border: 0, p: 0, m: 0 }}>
                    <Typography component="legend" variant="subtitle1" sx={{ mb: 1 }}>
                      Parameters
                    </Typography>
                    <Stack spacing={2}>
                      {parameters.map((parameter) => (
                        <ParameterField
                          key={parameter.name}
                          parameter={parameter}
                          value={current[parameter.name] ?? ""}
                          onChange={(value) => setValues({ ...current, [parameter.name]: value })}
                          errors={errorsAt(`parameters.${parameter.name}`)}
                          secretHelp={
                            stored?.[parameter.name] === "********"
                              ? "A value is stored (never shown): leave empty to keep it, type a new one to replace it."
                              : undefined
                          }
                        />
                      ))}
                    </Stack>
                  </Box>
                ) : null}
              </Section>

              <Section id="when-heading" title="When">
                <FormControl error={errorsAt("kind").length > 0}>
                  <FormLabel id="schedule-kind-label">Kind</FormLabel>
                  <RadioGroup row aria-labelledby="schedule-kind-label" value={form.kind} onChange={(event) => update({ kind: event.target.value as ScheduleForm["kind"] })}>
                    {KINDS.map((kind) => (
                      <FormControlLabel key={kind.value} value={kind.value} control={<Radio />} label={kind.label} />
                    ))}
                  </RadioGroup>
                  <FormHelperText>{errorsAt("kind").join(" ") || KINDS.find((kind) => kind.value === form.kind)?.help}</FormHelperText>
                </FormControl>
                {form.kind === "cron" ? (
                  <TextField
                    label="Cron expression"
                    value={form.cron}
                    onChange={(event) => update({ cron: event.target.value })}
                    {...field("cron", "minute hour day-of-month month day-of-week, or @daily, @hourly…; wall-clock time in the zone below.")}
                    slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: "monospace" } } }}
                    fullWidth
                  />
                ) : null}
                {form.kind === "interval" ? (
                  <Stack direction="row" spacing={2}>
                    <TextField label="Every" type="number" value={form.intervalEvery} onChange={(event) => update({ intervalEvery: event.target.value })} {...field("interval_every")} slotProps={{ htmlInput: { min: 1 } }} />
                    <FormControl sx={{ minWidth: 160 }} error={errorsAt("interval_unit").length > 0}>
                      <InputLabel id="schedule-unit-label">Unit</InputLabel>
                      <Select labelId="schedule-unit-label" label="Unit" value={form.intervalUnit} onChange={(event) => update({ intervalUnit: event.target.value })}>
                        {UNITS.map((unit) => (
                          <MenuItem key={unit} value={unit}>
                            {unit}
                          </MenuItem>
                        ))}
                      </Select>
                      <FormHelperText>{errorsAt("interval_unit").join(" ") || "Counted from the start (or from now)."}</FormHelperText>
                    </FormControl>
                  </Stack>
                ) : null}
                {form.kind === "once" ? (
                  <TextField
                    label={`Run at (${zone})`}
                    type="datetime-local"
                    value={form.runAt}
                    onChange={(event) => update({ runAt: event.target.value })}
                    {...field("run_at", `Wall-clock time in ${zone}.`)}
                    slotProps={{ inputLabel: { shrink: true }, htmlInput: { step: 1 } }}
                  />
                ) : null}
                {form.kind === "calendar" ? (
                  <>
                    <Stack direction="row" spacing={2} flexWrap="wrap" useFlexGap>
                      <TextField label="Every" type="number" value={form.every} onChange={(event) => update({ every: event.target.value })} {...field("every")} slotProps={{ htmlInput: { min: 1, max: 1000 } }} sx={{ width: 120 }} />
                      <FormControl sx={{ minWidth: 140 }} error={errorsAt("frequency").length > 0}>
                        <InputLabel id="schedule-frequency-label">Period</InputLabel>
                        <Select labelId="schedule-frequency-label" label="Period" value={form.frequency} onChange={(event) => update({ frequency: event.target.value })}>
                          {FREQUENCIES.map((item) => (
                            <MenuItem key={item.value} value={item.value}>
                              {item.label}
                            </MenuItem>
                          ))}
                        </Select>
                        {errorsAt("frequency").length ? <FormHelperText>{errorsAt("frequency").join(" ")}</FormHelperText> : null}
                      </FormControl>
                      <TextField
                        label="At (time of day)"
                        type="time"
                        value={form.timeOfDay}
                        onChange={(event) => update({ timeOfDay: event.target.value })}
                        {...field("time_of_day", `In ${zone}.`)}
                        slotProps={{ inputLabel: { shrink: true } }}
                      />
                    </Stack>
                    {form.frequency === "weekly" ? (
                      <FormControl error={Object.keys(error?.fields ?? {}).some((key) => key.startsWith("days_of_week"))} component="fieldset">
                        <FormLabel component="legend">On</FormLabel>
                        <FormGroup row>
                          {WEEKDAYS.map((day, index) => (
                            <FormControlLabel
                              key={day}
                              label={day}
                              control={
                                <Checkbox
                                  checked={form.daysOfWeek.includes(index)}
                                  onChange={(event) =>
                                    update({ daysOfWeek: event.target.checked ? [...form.daysOfWeek, index] : form.daysOfWeek.filter((d) => d !== index) })
                                  }
                                />
                              }
                            />
                          ))}
                        </FormGroup>
                        <FormHelperText>
                          {Object.entries(error?.fields ?? {})
                            .filter(([key]) => key.startsWith("days_of_week"))
                            .map(([, messages]) => messages.join(" "))
                            .join(" ") || "Weeks run Monday to Sunday, counted from the start."}
                        </FormHelperText>
                      </FormControl>
                    ) : null}
                    {form.frequency === "monthly" ? (
                      <TextField
                        label="Day of the month"
                        type="number"
                        value={form.dayOfMonth}
                        onChange={(event) => update({ dayOfMonth: event.target.value })}
                        {...field("day_of_month", "1-31; a shorter month fires on its last day.")}
                        slotProps={{ htmlInput: { min: 1, max: 31 } }}
                        sx={{ maxWidth: 220 }}
                      />
                    ) : null}
                  </>
                ) : null}
                <Autocomplete
                  options={timeZones()}
                  value={form.timezone || null}
                  onChange={(_, value) => update({ timezone: value ?? "" })}
                  autoHighlight
                  renderInput={(input) => (
                    <TextField
                      {...input}
                      label="Time zone"
                      {...field("timezone", "An IANA zone: the schedule's times are wall-clock times there, DST included.")}
                    />
                  )}
                />
                <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
                  <TextField
                    label={`Start (${zone}, optional)`}
                    type="datetime-local"
                    value={form.startAt}
                    onChange={(event) => update({ startAt: event.target.value })}
                    {...field("start_at", "Nothing fires before it; an interval counts from it.")}
                    slotProps={{ inputLabel: { shrink: true } }}
                    fullWidth
                  />
                  <TextField
                    label={`End (${zone}, optional)`}
                    type="datetime-local"
                    value={form.endAt}
                    onChange={(event) => update({ endAt: event.target.value })}
                    {...field("end_at", "Nothing fires after it.")}
                    slotProps={{ inputLabel: { shrink: true } }}
                    fullWidth
                  />
                </Stack>
                <TextField
                  label="Maximum firings (optional)"
                  type="number"
                  value={form.maxFirings}
                  onChange={(event) => update({ maxFirings: event.target.value })}
                  {...field("max_firings", "Stops after this many firings (runs started or failed to start).")}
                  slotProps={{ htmlInput: { min: 1 } }}
                  sx={{ maxWidth: 320 }}
                />
              </Section>

              <Section id="policies-heading" title="When something is in the way">
                <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
                  <FormControl fullWidth error={errorsAt("misfire_policy").length > 0}>
                    <InputLabel id="schedule-misfire-label">If the scheduler was down</InputLabel>
                    <Select labelId="schedule-misfire-label" label="If the scheduler was down" value={form.misfirePolicy} onChange={(event) => update({ misfirePolicy: event.target.value })}>
                      {MISFIRE.map((item) => (
                        <MenuItem key={item.value} value={item.value}>
                          {item.label}
                        </MenuItem>
                      ))}
                    </Select>
                    {errorsAt("misfire_policy").length ? <FormHelperText>{errorsAt("misfire_policy").join(" ")}</FormHelperText> : null}
                  </FormControl>
                  <TextField
                    label="Grace (seconds)"
                    type="number"
                    value={form.misfireGraceSeconds}
                    onChange={(event) => update({ misfireGraceSeconds: event.target.value })}
                    {...field("misfire_grace_seconds", "Later than this counts as missed.")}
                    slotProps={{ htmlInput: { min: 0 } }}
                    sx={{ minWidth: 180 }}
                  />
                </Stack>
                <FormControl fullWidth error={errorsAt("overlap_policy").length > 0}>
                  <InputLabel id="schedule-overlap-label">If the previous run still goes</InputLabel>
                  <Select labelId="schedule-overlap-label" label="If the previous run still goes" value={form.overlapPolicy} onChange={(event) => update({ overlapPolicy: event.target.value })}>
                    {OVERLAP.map((item) => (
                      <MenuItem key={item.value} value={item.value}>
                        {item.label}
                      </MenuItem>
                    ))}
                  </Select>
                  {errorsAt("overlap_policy").length ? <FormHelperText>{errorsAt("overlap_policy").join(" ")}</FormHelperText> : null}
                </FormControl>
                <FormControlLabel
                  control={<Switch checked={form.enabled} onChange={(event) => update({ enabled: event.target.checked })} />}
                  label={form.enabled ? "Active: fires when due" : "Paused: fires nothing until resumed"}
                />
              </Section>

              <Stack direction="row" spacing={2}>
                <Button type="submit" variant="contained" size="large" startIcon={<Save />} disabled={save.isPending || !allowed}>
                  {save.isPending ? "Saving…" : schedule ? "Save" : "Create schedule"}
                </Button>
                <Button component={Link} to={schedule ? `/schedules/${schedule.id}` : "/schedules"}>
                  Cancel
                </Button>
              </Stack>
            </Stack>
          </Paper>
        </Grid>
        <Grid size={{ xs: 12, md: 5 }}>
          <Paper variant="outlined" sx={{ p: 2, position: { md: "sticky" }, top: { md: 80 } }} component="section" aria-labelledby="preview-heading">
            <Typography id="preview-heading" variant="h6" component="h2">
              Next firings
            </Typography>
            <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
              In {zone} and in your time; where the clocks change, the rule that applies.
            </Typography>
            {preview.isFetching ? <LinearProgress aria-label="Updating the preview" sx={{ mb: 1 }} /> : null}
            {previewError ? (
              <Alert severity="warning" role="status">
                The preview waits for a definition the server accepts:{" "}
                {previewError instanceof ApiError && Object.keys(previewError.fields).length
                  ? Object.entries(previewError.fields)
                      .map(([path, messages]) => `${path}: ${messages.join(" ")}`)
                      .join("; ")
                  : previewError instanceof Error
                    ? previewError.message
                    : String(previewError)}
              </Alert>
            ) : (
              <PreviewList
                items={shown}
                zone={zone}
                label="Next firings"
                empty={preview.isPending ? "Working out the next firings…" : "It would never fire: nothing is due within its bounds."}
              />
            )}
          </Paper>
        </Grid>
      </Grid>
    </>
  );
}
