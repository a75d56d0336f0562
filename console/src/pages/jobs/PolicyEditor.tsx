// How runs of the job behave by default (each run may override): parallelism, rolling batches,
// the failure threshold, the run's timeout, connection retries and overlapping runs.
import { Checkbox, FormControlLabel, Grid, TextField, Typography } from "@mui/material";
import { messageAt, type FieldErrors, type PolicyDraft } from "./model";

const FIELDS: { name: Exclude<keyof PolicyDraft, "allow_overlap">; label: string; help: string; min: number; max?: number }[] = [
  { name: "max_parallel", label: "Targets at once", help: "1 to 10000.", min: 1, max: 10000 },
  { name: "batch_size", label: "Rolling batch size", help: "Empty: no batches (all targets, within the parallelism).", min: 1, max: 10000 },
  { name: "failure_threshold", label: "Stop after N failed targets", help: "Empty: never stop early.", min: 0 },
  { name: "failure_threshold_percent", label: "Stop after N% failed targets", help: "0 to 100; empty: never.", min: 0, max: 100 },
  { name: "run_timeout_seconds", label: "Run timeout (seconds)", help: "1 s to 7 days.", min: 1, max: 604800 },
  { name: "connection_retries", label: "Connection retries per target", help: "0 to 10.", min: 0, max: 10 },
  { name: "retry_backoff_seconds", label: "Seconds between retries", help: "0 to 3600.", min: 0, max: 3600 },
];

export function PolicyEditor({
  policy,
  onChange,
  errors,
  disabled,
}: {
  policy: PolicyDraft;
  onChange: (policy: PolicyDraft) => void;
  errors?: FieldErrors;
  disabled?: boolean;
}) {
  const whole = messageAt(errors, "policy") ?? messageAt(errors, "policy.non_field_errors");
  return (
    <Grid container spacing={2}>
      {whole ? (
        <Grid size={12}>
          <Typography color="error">{whole}</Typography>
        </Grid>
      ) : null}
      {FIELDS.map((field) => {
        const message = messageAt(errors, `policy.${field.name}`);
        return (
          <Grid key={field.name} size={{ xs: 12, sm: 6, md: 4 }}>
            <TextField
              label={field.label}
              type="number"
              value={policy[field.name]}
              disabled={disabled}
              onChange={(event) => onChange({ ...policy, [field.name]: event.target.value })}
              error={Boolean(message)}
              helperText={message ?? field.help}
              slotProps={{ htmlInput: { min: field.min, max: field.max } }}
              fullWidth
            />
          </Grid>
        );
      })}
      <Grid size={12}>
        <FormControlLabel
          control={
            <Checkbox
              checked={policy.allow_overlap}
              disabled={disabled}
              onChange={(event) => onChange({ ...policy, allow_overlap: event.target.checked })}
            />
          }
          label="Allow two runs of this job at once"
        />
        {messageAt(errors, "policy.allow_overlap") ? (
          <Typography color="error" variant="body2">
            {messageAt(errors, "policy.allow_overlap")}
          </Typography>
        ) : null}
      </Grid>
    </Grid>
  );
}
