// Create or change an alert rule: which job (every run of it, however it was started) or which
// schedule, which channel, and on which events. A rule's job or schedule is fixed once made.
import {
  Autocomplete,
  Button,
  Checkbox,
  CircularProgress,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  FormControl,
  FormControlLabel,
  FormGroup,
  FormHelperText,
  FormLabel,
  MenuItem,
  Radio,
  RadioGroup,
  Stack,
  TextField,
} from "@mui/material";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ALERTS_KEY, RULE_EVENTS, type AlertRule, type Channel } from "./common";

export type SubjectKind = "job" | "schedule";

interface Option {
  id: string;
  name: string;
}

export interface RuleValues {
  on: SubjectKind;
  subject: Option | null;
  channel: string;
  events: string[];
}

/** The request body of a new rule (job or schedule, never both) or of a change (channel and
 * events only: the rule's subject stays). */
export function ruleBody(values: RuleValues, editing: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { channel: values.channel, events: values.events };
  if (!editing && values.subject) body[values.on] = values.subject.id;
  return body;
}

function useSubjects(on: SubjectKind, text: string) {
  const [typed, setTyped] = useState(text);
  useEffect(() => {
    const timer = setTimeout(() => setTyped(text), 250);
    return () => clearTimeout(timer);
  }, [text]);
  return useQuery({
    queryKey: [...ALERTS_KEY, "subjects", on, typed],
    queryFn: async (): Promise<Option[]> => {
      const query = { search: typed || undefined, page_size: 20, ordering: "name" };
      const page =
        on === "job"
          ? await unwrap(api.GET("/api/v1/jobs/", { params: { query } }))
          : await unwrap(api.GET("/api/v1/schedules/", { params: { query } }));
      return (page as { results: Option[] }).results.map((row) => ({ id: row.id, name: row.name }));
    },
    placeholderData: keepPreviousData,
    retry: false,
  });
}

const SHOWN = ["job", "schedule", "channel", "events"];

export function RuleDialog({
  rule,
  channels,
  initial,
  onClose,
  onSaved,
}: {
  rule?: AlertRule;
  channels: Channel[];
  /** Values to start a new rule with (e.g. from a job's page). */
  initial?: Partial<RuleValues>;
  onClose: () => void;
  onSaved: (rule: AlertRule) => void;
}) {
  const editing = Boolean(rule);
  const [values, setValues] = useState<RuleValues>(() => ({
    on: rule ? (rule.schedule ? "schedule" : "job") : (initial?.on ?? "job"),
    subject: rule ? { id: (rule.schedule ?? rule.job) as string, name: rule.subject_name } : (initial?.subject ?? null),
    channel: rule?.channel ?? initial?.channel ?? channels[0]?.name ?? "",
    events: rule?.events ?? initial?.events ?? ["failed", "recovered"],
  }));
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const subjects = useSubjects(values.on, text);
  const fields = error instanceof ApiError ? error.fields : {};
  const at = (path: string) => fields[path]?.join(" ");
  const eventErrors = Object.entries(fields)
    .filter(([path]) => path === "events" || path.startsWith("events."))
    .flatMap(([, reasons]) => reasons)
    .join(" ");
  const set = (change: Partial<RuleValues>) => setValues((current) => ({ ...current, ...change }));
  const missing = !values.subject || !values.channel || values.events.length === 0;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = ruleBody(values, editing);
      const saved = rule
        ? await unwrap(api.PATCH("/api/v1/alert-rules/{id}/", { params: { path: { id: rule.id } }, body }))
        : await unwrap(api.POST("/api/v1/alert-rules/", { body: body as never }));
      onSaved(saved as AlertRule);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  }

  const toggle = (name: string, on: boolean) =>
    set({ events: on ? [...values.events, name] : values.events.filter((event) => event !== name) });

  return (
    <Dialog open onClose={onClose} fullWidth maxWidth="sm" aria-labelledby="rule-dialog-title">
      <form onSubmit={submit} noValidate>
        <DialogTitle id="rule-dialog-title">{editing ? `Edit the rule on ${rule?.subject_name}` : "New alert rule"}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ mt: 1 }}>
            <ErrorAlert error={error} shownFields={SHOWN} />
            <FormControl disabled={editing}>
              <FormLabel id="rule-on-label">Alert on</FormLabel>
              <RadioGroup
                row
                aria-labelledby="rule-on-label"
                value={values.on}
                onChange={(event) => set({ on: event.target.value as SubjectKind, subject: null })}
              >
                <FormControlLabel value="job" control={<Radio />} label="A job (every run of it)" />
                <FormControlLabel value="schedule" control={<Radio />} label="A schedule" />
              </RadioGroup>
            </FormControl>
            <Autocomplete
              disabled={editing}
              options={subjects.data ?? []}
              value={values.subject}
              onChange={(_, subject) => set({ subject })}
              inputValue={text}
              onInputChange={(_, typed) => setText(typed)}
              isOptionEqualToValue={(option, value) => option.id === value.id}
              getOptionLabel={(option) => option.name}
              filterOptions={(options) => options}
              loading={subjects.isFetching}
              noOptionsText={values.on === "job" ? "No job matches" : "No schedule matches"}
              renderInput={(params) => (
                <TextField
                  {...params}
                  required
                  label={values.on === "job" ? "Job" : "Schedule"}
                  error={Boolean(at(values.on))}
                  helperText={
                    at(values.on) ||
                    at("job") ||
                    (values.on === "job"
                      ? "Runs launched by hand, by the API or by any schedule all count."
                      : "Its runs, and the due times it misses.")
                  }
                  slotProps={{
                    input: {
                      ...params.InputProps,
                      endAdornment: (
                        <>
                          {subjects.isFetching ? <CircularProgress size={18} aria-label="Searching" /> : null}
                          {params.InputProps.endAdornment}
                        </>
                      ),
                    },
                  }}
                />
              )}
            />
            <TextField
              select
              required
              label="Channel"
              value={values.channel}
              onChange={(event) => set({ channel: event.target.value })}
              error={Boolean(at("channel"))}
              helperText={at("channel") || (channels.length ? " " : "Create a channel first.")}
            >
              {channels.map((channel) => (
                <MenuItem key={channel.id} value={channel.name}>
                  {channel.name}
                </MenuItem>
              ))}
            </TextField>
            <FormControl error={Boolean(eventErrors)} component="fieldset">
              <FormLabel component="legend">Tell the channel when</FormLabel>
              <FormGroup>
                {RULE_EVENTS.filter((event) => event.value !== "missed" || values.on === "schedule").map((event) => (
                  <FormControlLabel
                    key={event.value}
                    control={
                      <Checkbox
                        checked={values.events.includes(event.value)}
                        onChange={(change) => toggle(event.value, change.target.checked)}
                      />
                    }
                    label={`${event.label}: ${event.help}`}
                  />
                ))}
              </FormGroup>
              <FormHelperText>{eventErrors || "Pick one or more."}</FormHelperText>
            </FormControl>
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="contained" disabled={busy || missing}>
            {editing ? "Save the rule" : "Create the rule"}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
