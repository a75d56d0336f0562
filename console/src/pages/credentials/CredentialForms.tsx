// Create, change and rotate credentials. Secrets are write-only: typed into password inputs
// (or a key pasted or loaded from a file), sent once, and cleared from the page's state right
// after the answer, success or failure. The server never sends them back; the edit form has no
// secret field at all (rotating is its own action).
import {
  Box,
  Button,
  Checkbox,
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
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import UploadFile from "@mui/icons-material/UploadFile";
import { useRef, useState, type ChangeEvent, type FormEvent } from "react";
import { api, ApiError, unwrap, type components } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";

export type Credential = components["schemas"]["Credential"];
export type Kind = components["schemas"]["CredentialKindEnum"];

export const KIND_LABELS: Record<Kind, string> = {
  password: "Password (SSH)",
  ssh_key: "SSH private key",
  winrm: "Password (WinRM)",
};

const ATTACH_ROLES = ["manager", "operator", "viewer"] as const;

interface Secrets {
  password: string;
  private_key: string;
  passphrase: string;
}

const NO_SECRETS: Secrets = { password: "", private_key: "", passphrase: "" };

function secretBody(kind: Kind, secrets: Secrets) {
  if (kind === "ssh_key") {
    return { private_key: secrets.private_key, passphrase: secrets.passphrase || null };
  }
  return { password: secrets.password };
}

/** The secret inputs of a kind: never pre-filled, never given a value from the server. */
function SecretFields({
  kind,
  secrets,
  onChange,
  fields,
  rotating,
}: {
  kind: Kind;
  secrets: Secrets;
  onChange: (secrets: Secrets) => void;
  fields: Record<string, string[]>;
  rotating?: boolean;
}) {
  const fileInput = useRef<HTMLInputElement>(null);
  const [fileNote, setFileNote] = useState<string | null>(null);
  const at = (path: string) => fields[path]?.join(" ");
  async function loadKey(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    if (file.size > 16384) {
      setFileNote(`${file.name} is larger than any supported key.`);
      return;
    }
    onChange({ ...secrets, private_key: await file.text() });
    setFileNote(`Loaded from ${file.name}.`);
  }
  if (kind === "ssh_key") {
    return (
      <Stack spacing={2}>
        <Box>
          <TextField
            fullWidth
            required
            multiline
            minRows={4}
            maxRows={10}
            label={rotating ? "New private key" : "Private key"}
            value={secrets.private_key}
            onChange={(event) => onChange({ ...secrets, private_key: event.target.value })}
            error={Boolean(at("private_key"))}
            helperText={at("private_key") || fileNote || "OpenSSH or PEM; paste it or load it from a file. It is never shown again."}
            autoComplete="off"
            slotProps={{ htmlInput: { spellCheck: false, maxLength: 16384, style: { fontFamily: "monospace", fontSize: 12 } } }}
          />
          <input ref={fileInput} type="file" hidden onChange={loadKey} aria-label="Choose a private key file" />
          <Button size="small" startIcon={<UploadFile />} onClick={() => fileInput.current?.click()} sx={{ mt: 0.5 }}>
            Load the key from a file
          </Button>
        </Box>
        <TextField
          type="password"
          label="Passphrase (if the key is encrypted)"
          value={secrets.passphrase}
          onChange={(event) => onChange({ ...secrets, passphrase: event.target.value })}
          error={Boolean(at("passphrase"))}
          helperText={at("passphrase") || " "}
          autoComplete="new-password"
          slotProps={{ htmlInput: { maxLength: 1024 } }}
        />
      </Stack>
    );
  }
  return (
    <TextField
      required
      type="password"
      label={rotating ? "New password" : "Password"}
      value={secrets.password}
      onChange={(event) => onChange({ ...secrets, password: event.target.value })}
      error={Boolean(at("password"))}
      helperText={at("password") || "Write-only: it is never shown again."}
      autoComplete="new-password"
      slotProps={{ htmlInput: { maxLength: 1024 } }}
    />
  );
}

interface ScopeValues {
  allowed_targets: string;
  allowed_hosts: string;
  attach_roles: string[];
  host_key_policy: "target" | "strict";
}

function scopeOf(credential?: Credential): ScopeValues {
  return {
    allowed_targets: credential?.allowed_targets ?? "",
    allowed_hosts: (credential?.allowed_hosts ?? []).join("\n"),
    attach_roles: credential?.attach_roles ?? [],
    host_key_policy: credential?.host_key_policy ?? "target",
  };
}

function scopeBody(scope: ScopeValues) {
  return {
    allowed_targets: scope.allowed_targets.trim(),
    allowed_hosts: scope.allowed_hosts
      .split(/[\n,]/)
      .map((host) => host.trim())
      .filter(Boolean),
    attach_roles: scope.attach_roles,
    host_key_policy: scope.host_key_policy,
  };
}

/** Errors of `allowed_hosts.<i>` point at a line of the text: say which. */
function hostErrors(fields: Record<string, string[]>, scope: ScopeValues): string | undefined {
  const hosts = scopeBody(scope).allowed_hosts;
  const messages = Object.entries(fields)
    .filter(([path]) => path === "allowed_hosts" || path.startsWith("allowed_hosts."))
    .flatMap(([path, reasons]) => {
      const index = Number(path.split(".")[1]);
      return Number.isNaN(index) ? reasons : reasons.map((reason) => `${hosts[index] ?? `Entry ${index + 1}`}: ${reason}`);
    });
  return messages.length ? messages.join(" ") : undefined;
}

function ScopeFields({
  scope,
  onChange,
  fields,
}: {
  scope: ScopeValues;
  onChange: (scope: ScopeValues) => void;
  fields: Record<string, string[]>;
}) {
  const at = (path: string) => fields[path]?.join(" ");
  const roleErrors = Object.entries(fields)
    .filter(([path]) => path === "attach_roles" || path.startsWith("attach_roles."))
    .flatMap(([, reasons]) => reasons);
  const hosts = hostErrors(fields, scope);
  return (
    <Stack spacing={2} component="fieldset" sx={{ border: 0, p: 0, m: 0 }}>
      <Typography component="legend" variant="subtitle1">
        Scope: where the secret may be sent, and who may attach it
      </Typography>
      <TextField
        label="Allowed targets (selector)"
        value={scope.allowed_targets}
        onChange={(event) => onChange({ ...scope, allowed_targets: event.target.value })}
        error={Boolean(at("allowed_targets"))}
        helperText={at("allowed_targets") || "Only targets this selector matches may use it, e.g. env=production and tag:web. Empty: any target."}
        slotProps={{ htmlInput: { spellCheck: false, maxLength: 4000, style: { fontFamily: "monospace" } } }}
      />
      <TextField
        label="Allowed hosts"
        multiline
        minRows={2}
        value={scope.allowed_hosts}
        onChange={(event) => onChange({ ...scope, allowed_hosts: event.target.value })}
        error={Boolean(hosts)}
        helperText={hosts || "One per line: host names (exact or *.example.com), IP addresses or CIDR networks (10.20.0.0/16). Empty: any host."}
        slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: "monospace" } } }}
      />
      <FormControl error={roleErrors.length > 0} component="fieldset">
        <FormLabel component="legend">Roles besides admin that may attach it to a connection method</FormLabel>
        <FormGroup row>
          {ATTACH_ROLES.map((role) => (
            <FormControlLabel
              key={role}
              label={role}
              control={
                <Checkbox
                  checked={scope.attach_roles.includes(role)}
                  onChange={(event) =>
                    onChange({
                      ...scope,
                      attach_roles: event.target.checked
                        ? [...scope.attach_roles, role]
                        : scope.attach_roles.filter((other) => other !== role),
                    })
                  }
                />
              }
            />
          ))}
        </FormGroup>
        <FormHelperText>{roleErrors.join(" ") || "None checked: only admins attach it."}</FormHelperText>
      </FormControl>
      <TextField
        select
        label="Host-key policy"
        value={scope.host_key_policy}
        onChange={(event) => onChange({ ...scope, host_key_policy: event.target.value as ScopeValues["host_key_policy"] })}
        error={Boolean(at("host_key_policy"))}
        helperText={at("host_key_policy") || " "}
      >
        <MenuItem value="target">As the target says (strict or accept-new)</MenuItem>
        <MenuItem value="strict">Strict: never trust a host key on first use</MenuItem>
      </TextField>
    </Stack>
  );
}

const SHOWN = [
  "name",
  "description",
  "kind",
  "username",
  "password",
  "private_key",
  "passphrase",
  "allowed_targets",
  "allowed_hosts",
  "attach_roles",
  "host_key_policy",
];

/** A new credential (no `credential`), or a change of one's name, username and scope. */
export function CredentialDialog({
  credential,
  onClose,
  onSaved,
}: {
  credential?: Credential;
  onClose: () => void;
  onSaved: (credential: Credential) => void;
}) {
  const [name, setName] = useState(credential?.name ?? "");
  const [description, setDescription] = useState(credential?.description ?? "");
  const [kind, setKind] = useState<Kind>(credential?.kind ?? "ssh_key");
  const [username, setUsername] = useState(credential?.username ?? "");
  const [secrets, setSecrets] = useState<Secrets>(NO_SECRETS);
  const [scope, setScope] = useState<ScopeValues>(() => scopeOf(credential));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fields = error instanceof ApiError ? error.fields : {};
  const at = (path: string) => fields[path]?.join(" ");

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const common = { name: name.trim(), description, username: username.trim(), ...scopeBody(scope) };
    try {
      const saved = credential
        ? await unwrap(api.PATCH("/api/v1/credentials/{id}/", { params: { path: { id: credential.id } }, body: common }))
        : await unwrap(api.POST("/api/v1/credentials/", { body: { ...common, kind, ...secretBody(kind, secrets) } }));
      onSaved(saved);
    } catch (exc) {
      setError(exc);
    } finally {
      // the secret leaves the page's state with the request, whatever the answer
      setSecrets(NO_SECRETS);
      setBusy(false);
    }
  }

  return (
    <Dialog open onClose={busy ? undefined : onClose} fullWidth maxWidth="md" aria-labelledby="credential-dialog-title">
      <form onSubmit={submit} noValidate autoComplete="off">
        <DialogTitle id="credential-dialog-title">{credential ? `Edit credential ${credential.name}` : "New credential"}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ pt: 1 }}>
            {error ? <ErrorAlert error={error} shownFields={SHOWN} /> : null}
            {error && !credential ? (
              <Typography variant="body2" color="text.secondary">
                The secret was cleared from the form: enter it again.
              </Typography>
            ) : null}
            <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
              <TextField
                required
                autoFocus
                fullWidth
                label="Name"
                value={name}
                onChange={(event) => setName(event.target.value)}
                error={Boolean(at("name"))}
                helperText={at("name") || "Unique; connection methods name it."}
                slotProps={{ htmlInput: { maxLength: 64, spellCheck: false } }}
              />
              <TextField
                select
                fullWidth
                label="Kind"
                value={kind}
                onChange={(event) => {
                  setKind(event.target.value as Kind);
                  setSecrets(NO_SECRETS);
                }}
                disabled={Boolean(credential)}
                error={Boolean(at("kind"))}
                helperText={at("kind") || (credential ? "A different kind is a different credential." : " ")}
              >
                {(Object.keys(KIND_LABELS) as Kind[]).map((value) => (
                  <MenuItem key={value} value={value}>
                    {KIND_LABELS[value]}
                  </MenuItem>
                ))}
              </TextField>
              <TextField
                required
                fullWidth
                label="Username"
                value={username}
                onChange={(event) => setUsername(event.target.value)}
                error={Boolean(at("username"))}
                helperText={at("username") || "A method's own username overrides it."}
                autoComplete="off"
                slotProps={{ htmlInput: { maxLength: 128, spellCheck: false } }}
              />
            </Stack>
            <TextField
              label="Description"
              value={description}
              onChange={(event) => setDescription(event.target.value)}
              error={Boolean(at("description"))}
              helperText={at("description") || " "}
              slotProps={{ htmlInput: { maxLength: 4000 } }}
            />
            {credential ? (
              <Typography variant="body2" color="text.secondary">
                The secret is not shown and is not changed here: use Rotate to replace it.
              </Typography>
            ) : (
              <SecretFields kind={kind} secrets={secrets} onChange={setSecrets} fields={fields} />
            )}
            <ScopeFields scope={scope} onChange={setScope} fields={fields} />
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="contained" disabled={busy}>
            {busy ? "Saving…" : credential ? "Save changes" : "Create credential"}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}

/** Replace a credential's secret (recorded as a rotation). */
export function RotateDialog({
  credential,
  onClose,
  onSaved,
}: {
  credential: Credential;
  onClose: () => void;
  onSaved: (credential: Credential) => void;
}) {
  const [secrets, setSecrets] = useState<Secrets>(NO_SECRETS);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fields = error instanceof ApiError ? error.fields : {};

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await unwrap(
        api.PATCH("/api/v1/credentials/{id}/", {
          params: { path: { id: credential.id } },
          body: secretBody(credential.kind, secrets),
        }),
      );
      onSaved(saved);
    } catch (exc) {
      setError(exc);
    } finally {
      setSecrets(NO_SECRETS);
      setBusy(false);
    }
  }

  return (
    <Dialog open onClose={busy ? undefined : onClose} fullWidth maxWidth="sm" aria-labelledby="rotate-dialog-title">
      <form onSubmit={submit} noValidate autoComplete="off">
        <DialogTitle id="rotate-dialog-title">Rotate the secret of {credential.name}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ pt: 1 }}>
            <Typography variant="body2">
              The new secret replaces the old one for all {credential.used_by} connection method
              {credential.used_by === 1 ? "" : "s"} using this credential, from their next connection on.
            </Typography>
            {error ? <ErrorAlert error={error} shownFields={SHOWN} /> : null}
            {error ? (
              <Typography variant="body2" color="text.secondary">
                The secret was cleared from the form: enter it again.
              </Typography>
            ) : null}
            <SecretFields kind={credential.kind} secrets={secrets} onChange={setSecrets} fields={fields} rotating />
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="contained" disabled={busy}>
            {busy ? "Rotating…" : "Replace the secret"}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
