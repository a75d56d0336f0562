// Create or change a notification channel: a webhook (URL and signing secret) or an email list.
// The signing secret is write-only: typed into a password input, sent once and cleared from the
// page right after the answer; editing a webhook leaves it unchanged unless a new one is typed.
import {
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  FormControlLabel,
  MenuItem,
  Stack,
  Switch,
  TextField,
} from "@mui/material";
import { useState, type FormEvent } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { KIND_LABELS, type Channel } from "./common";

interface Values {
  name: string;
  description: string;
  kind: Channel["kind"];
  url: string;
  secret: string;
  recipients: string;
  enabled: boolean;
}

function valuesOf(channel?: Channel): Values {
  return {
    name: channel?.name ?? "",
    description: channel?.description ?? "",
    kind: channel?.kind ?? "webhook",
    url: channel?.url ?? "",
    secret: "",
    recipients: (channel?.recipients ?? []).join("\n"),
    enabled: channel?.enabled ?? true,
  };
}

/** The request body: only the kind's own fields; the secret only when one was typed. */
export function channelBody(values: Values): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: values.name.trim(),
    description: values.description,
    kind: values.kind,
    enabled: values.enabled,
  };
  if (values.kind === "webhook") {
    body.url = values.url.trim();
    if (values.secret) body.secret = values.secret;
  } else {
    body.recipients = values.recipients
      .split(/[\n,;]/)
      .map((address) => address.trim())
      .filter(Boolean);
  }
  return body;
}

/** Errors of `recipients.<i>` name the address they are about. */
function recipientErrors(fields: Record<string, string[]>, values: Values): string | undefined {
  const list = (channelBody({ ...values, kind: "email" }).recipients as string[]) ?? [];
  const messages = Object.entries(fields)
    .filter(([path]) => path === "recipients" || path.startsWith("recipients."))
    .flatMap(([path, reasons]) => {
      const index = Number(path.split(".")[1]);
      return Number.isNaN(index) ? reasons : reasons.map((reason) => `${list[index] ?? `Address ${index + 1}`}: ${reason}`);
    });
  return messages.length ? messages.join(" ") : undefined;
}

const SHOWN = ["name", "description", "kind", "url", "secret", "recipients", "enabled"];

export function ChannelDialog({
  channel,
  onClose,
  onSaved,
}: {
  channel?: Channel;
  onClose: () => void;
  onSaved: (channel: Channel) => void;
}) {
  const [values, setValues] = useState<Values>(() => valuesOf(channel));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [secretCleared, setSecretCleared] = useState(false);
  const fields = error instanceof ApiError ? error.fields : {};
  const at = (path: string) => fields[path]?.join(" ");
  const set = (change: Partial<Values>) => setValues((current) => ({ ...current, ...change }));
  const editing = Boolean(channel);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = channelBody(values);
    const hadSecret = Boolean(values.secret);
    // the secret leaves the page's state now, whatever the answer
    set({ secret: "" });
    try {
      const saved = channel
        ? await unwrap(api.PATCH("/api/v1/notification-channels/{id}/", { params: { path: { id: channel.id } }, body }))
        : await unwrap(api.POST("/api/v1/notification-channels/", { body: body as never }));
      onSaved(saved as Channel);
    } catch (exc) {
      setError(exc);
      setSecretCleared(hadSecret);
    } finally {
      setBusy(false);
    }
  }

  const secretHelp = at("secret")
    ? at("secret")
    : secretCleared
      ? "The secret was cleared from the form: enter it again."
      : editing && channel?.secret_set
        ? "A secret is set. Leave this empty to keep it; type a new one to replace it. It is never shown again."
        : "The HMAC-SHA256 key each request is signed with; the receiver checks the signature with it. Never shown again.";

  return (
    <Dialog open onClose={onClose} fullWidth maxWidth="sm" aria-labelledby="channel-dialog-title">
      <form onSubmit={submit} noValidate>
        <DialogTitle id="channel-dialog-title">{editing ? `Edit ${channel?.name}` : "New notification channel"}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ mt: 1 }}>
            <ErrorAlert error={error} shownFields={SHOWN} />
            <TextField
              required
              label="Name"
              value={values.name}
              onChange={(event) => set({ name: event.target.value })}
              error={Boolean(at("name"))}
              helperText={at("name") || "How rules and the delivery log name it, e.g. ops-webhook."}
              slotProps={{ htmlInput: { maxLength: 100 } }}
            />
            <TextField
              label="Description"
              value={values.description}
              onChange={(event) => set({ description: event.target.value })}
              error={Boolean(at("description"))}
              helperText={at("description") || " "}
            />
            <TextField
              select
              label="Kind"
              value={values.kind}
              onChange={(event) => set({ kind: event.target.value as Channel["kind"] })}
              error={Boolean(at("kind"))}
              helperText={at("kind") || " "}
              disabled={editing}
            >
              {(Object.keys(KIND_LABELS) as Channel["kind"][]).map((kind) => (
                <MenuItem key={kind} value={kind}>
                  {KIND_LABELS[kind]}
                </MenuItem>
              ))}
            </TextField>
            {values.kind === "webhook" ? (
              <>
                <TextField
                  required
                  label="URL"
                  type="url"
                  value={values.url}
                  onChange={(event) => set({ url: event.target.value })}
                  error={Boolean(at("url"))}
                  helperText={at("url") || "http:// or https://; redirects are not followed."}
                  slotProps={{ htmlInput: { maxLength: 1000, spellCheck: false } }}
                />
                <TextField
                  required={!channel?.secret_set}
                  type="password"
                  label={channel?.secret_set ? "New signing secret" : "Signing secret"}
                  value={values.secret}
                  onChange={(event) => {
                    setSecretCleared(false);
                    set({ secret: event.target.value });
                  }}
                  error={Boolean(at("secret"))}
                  helperText={secretHelp}
                  autoComplete="new-password"
                  slotProps={{ htmlInput: { maxLength: 500 } }}
                />
              </>
            ) : (
              <TextField
                required
                multiline
                minRows={2}
                label="Recipients"
                value={values.recipients}
                onChange={(event) => set({ recipients: event.target.value })}
                error={Boolean(recipientErrors(fields, values))}
                helperText={recipientErrors(fields, values) || "Email addresses, one a line (or separated by commas). The server's mail settings send them."}
                slotProps={{ htmlInput: { spellCheck: false } }}
              />
            )}
            <FormControlLabel
              control={<Switch checked={values.enabled} onChange={(event) => set({ enabled: event.target.checked })} />}
              label="Enabled (a disabled channel is told nothing)"
            />
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="contained" disabled={busy}>
            {editing ? "Save the channel" : "Create the channel"}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
