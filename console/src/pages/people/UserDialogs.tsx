// The admins' dialogs of the People page: create a user, change one's details and role, reset a
// password, deactivate or reactivate. Passwords are write-only: typed (or generated here) and
// sent once; a generated one is shown once, in the dialog, and gone when it closes.
import {
  Alert,
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  FormControl,
  FormControlLabel,
  FormLabel,
  MenuItem,
  Radio,
  RadioGroup,
  Stack,
  TextField,
} from "@mui/material";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, unwrap, type components } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { generatePassword, OnceValue } from "./OnceValue";

export type User = components["schemas"]["User"];
export const ROLES = ["viewer", "operator", "manager", "admin"] as const;
export const ROLE_HELP: Record<(typeof ROLES)[number], string> = {
  viewer: "reads everything but credentials",
  operator: "also launches, cancels and retries runs",
  manager: "also changes targets, groups and jobs",
  admin: "also credentials, host keys and people",
};

function fieldError(error: unknown, name: string): string | undefined {
  return error instanceof ApiError ? error.fieldErrors(name).join(" ") || undefined : undefined;
}

type PasswordMode = "generate" | "type";

/** Generate a password (shown once afterwards) or type one. */
function PasswordChoice({
  mode,
  onMode,
  typed,
  onTyped,
  error,
  label,
}: {
  mode: PasswordMode;
  onMode: (mode: PasswordMode) => void;
  typed: string;
  onTyped: (value: string) => void;
  error?: string;
  label: string;
}) {
  return (
    <FormControl>
      <FormLabel id="password-mode-label">{label}</FormLabel>
      <RadioGroup aria-labelledby="password-mode-label" value={mode} onChange={(event) => onMode(event.target.value as PasswordMode)}>
        <FormControlLabel value="generate" control={<Radio />} label="Generate a strong password (shown once, to pass on)" />
        <FormControlLabel value="type" control={<Radio />} label="Type a password" />
      </RadioGroup>
      {mode === "type" ? (
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          value={typed}
          onChange={(event) => onTyped(event.target.value)}
          error={Boolean(error)}
          helperText={error ?? "At least 8 characters, not too common, not like the username."}
          size="small"
          required
        />
      ) : error ? (
        <Alert severity="error">{error}</Alert>
      ) : null}
    </FormControl>
  );
}

function Done({ title, message, password, onClose }: { title: string; message: string; password: string | null; onClose: () => void }) {
  return (
    <>
      <DialogTitle id="user-dialog-title">{title}</DialogTitle>
      <DialogContent>
        <Stack spacing={2} sx={{ pt: 1 }}>
          <Alert severity="success">{message}</Alert>
          {password ? (
            <OnceValue
              label="Password"
              value={password}
              warning="Copy this password now and give it to the user over a safe channel: it is not shown again. They can change it in My account."
            />
          ) : null}
        </Stack>
      </DialogContent>
      <DialogActions>
        <Button variant="contained" onClick={onClose}>
          Done
        </Button>
      </DialogActions>
    </>
  );
}

/** Create a user (no `user`) or change one's names, email, role and auditor capability. */
export function UserDialog({ user, onClose, onSaved }: { user?: User; onClose: () => void; onSaved: () => void }) {
  const [form, setForm] = useState({
    username: user?.username ?? "",
    email: user?.email ?? "",
    first_name: user?.first_name ?? "",
    last_name: user?.last_name ?? "",
    role: user?.role ?? "viewer",
    is_auditor: user?.is_auditor ?? false,
  });
  const [mode, setMode] = useState<PasswordMode>("generate");
  const [typed, setTyped] = useState("");
  const [done, setDone] = useState<{ message: string; password: string | null } | null>(null);
  const save = useMutation({
    mutationFn: async () => {
      if (user) {
        const { username, ...rest } = form;
        return unwrap(
          api.PATCH("/api/v1/users/{id}/", {
            params: { path: { id: user.id } },
            body: username === user.username ? rest : form,
          }),
        );
      }
      const password = mode === "generate" ? generatePassword() : typed;
      try {
        const created = await unwrap(api.POST("/api/v1/users/", { body: { ...form, password } }));
        return { ...created, generated: mode === "generate" ? password : null };
      } finally {
        setTyped("");
      }
    },
    onSuccess: (saved) => {
      onSaved();
      if (user) onClose();
      else setDone({ message: `${saved.username} can now sign in as ${saved.role}.`, password: (saved as { generated?: string | null }).generated ?? null });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const err = (name: string) => fieldError(save.error, name);
  const set = (name: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [name]: event.target.value });
  return (
    <Dialog open onClose={onClose} aria-labelledby="user-dialog-title" fullWidth maxWidth="sm">
      {done ? (
        <Done title="User created" message={done.message} password={done.password} onClose={onClose} />
      ) : (
        <form onSubmit={submit} aria-labelledby="user-dialog-title" noValidate>
          <DialogTitle id="user-dialog-title">{user ? `Change ${user.username}` : "New user"}</DialogTitle>
          <DialogContent>
            <Stack spacing={2} sx={{ pt: 1 }}>
              <ErrorAlert
                error={save.error}
                shownFields={["username", "email", "first_name", "last_name", "role", "is_auditor", ...(mode === "type" ? ["password"] : [])]}
              />
              <TextField label="Username" value={form.username} onChange={set("username")} required autoFocus error={Boolean(err("username"))} helperText={err("username")} size="small" />
              <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
                <TextField label="First name" value={form.first_name} onChange={set("first_name")} error={Boolean(err("first_name"))} helperText={err("first_name")} size="small" fullWidth />
                <TextField label="Last name" value={form.last_name} onChange={set("last_name")} error={Boolean(err("last_name"))} helperText={err("last_name")} size="small" fullWidth />
              </Stack>
              <TextField label="Email" type="email" value={form.email} onChange={set("email")} error={Boolean(err("email"))} helperText={err("email")} size="small" />
              <TextField select label="Role" value={form.role} onChange={set("role")} error={Boolean(err("role"))} helperText={err("role") ?? ROLE_HELP[form.role as (typeof ROLES)[number]]} size="small">
                {ROLES.map((role) => (
                  <MenuItem key={role} value={role}>
                    {role}
                  </MenuItem>
                ))}
              </TextField>
              <FormControlLabel
                control={<Checkbox checked={form.is_auditor} onChange={(event) => setForm({ ...form, is_auditor: event.target.checked })} />}
                label="Auditor: may read the audit trail and its reports (whatever the role)"
              />
              {!user ? (
                <PasswordChoice label="Initial password" mode={mode} onMode={setMode} typed={typed} onTyped={setTyped} error={err("password")} />
              ) : null}
            </Stack>
          </DialogContent>
          <DialogActions>
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="contained" disabled={save.isPending}>
              {user ? "Save" : "Create user"}
            </Button>
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}

/** An admin sets a new password: every session of the user ends (their API tokens stay). */
export function ResetPasswordDialog({ user, onClose, onSaved }: { user: User; onClose: () => void; onSaved: () => void }) {
  const [mode, setMode] = useState<PasswordMode>("generate");
  const [typed, setTyped] = useState("");
  const [done, setDone] = useState<string | null | undefined>(undefined);
  const reset = useMutation({
    mutationFn: async () => {
      const password = mode === "generate" ? generatePassword() : typed;
      try {
        await unwrap(api.PATCH("/api/v1/users/{id}/", { params: { path: { id: user.id } }, body: { password } }));
      } finally {
        setTyped("");
      }
      return mode === "generate" ? password : null;
    },
    onSuccess: (password) => {
      onSaved();
      setDone(password);
    },
  });
  return (
    <Dialog open onClose={onClose} aria-labelledby="user-dialog-title" fullWidth maxWidth="sm">
      {done !== undefined ? (
        <Done title="Password reset" message={`The password of ${user.username} was replaced; every session they had is ended.`} password={done} onClose={onClose} />
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            reset.mutate();
          }}
          aria-labelledby="user-dialog-title"
          noValidate
        >
          <DialogTitle id="user-dialog-title">Reset the password of {user.username}?</DialogTitle>
          <DialogContent>
            <Stack spacing={2}>
              <DialogContentText>
                The old password stops working at once and every session of {user.username} ends (the console and the API&apos;s
                sign-ins); their API tokens keep working. The change is recorded in the audit trail.
              </DialogContentText>
              <ErrorAlert error={reset.error} shownFields={["password"]} />
              <PasswordChoice label="New password" mode={mode} onMode={setMode} typed={typed} onTyped={setTyped} error={fieldError(reset.error, "password")} />
            </Stack>
          </DialogContent>
          <DialogActions>
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="contained" color="warning" disabled={reset.isPending}>
              Reset password
            </Button>
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}

/** Deactivate (cannot sign in, sessions and tokens refused) or reactivate a user. */
export function ActiveDialog({ user, onClose, onSaved }: { user: User; onClose: () => void; onSaved: (message: string) => void }) {
  const activate = !user.is_active;
  const change = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/v1/users/{id}/", { params: { path: { id: user.id } }, body: { is_active: activate } })),
    onSuccess: () => onSaved(activate ? `${user.username} can sign in again.` : `${user.username} was deactivated.`),
  });
  return (
    <Dialog open onClose={onClose} aria-labelledby="active-dialog-title">
      <DialogTitle id="active-dialog-title">
        {activate ? `Reactivate ${user.username}?` : `Deactivate ${user.username}?`}
      </DialogTitle>
      <DialogContent>
        <Stack spacing={2}>
          <DialogContentText>
            {activate
              ? `${user.username} can sign in again with their password, and their API tokens that are neither revoked nor expired work again.`
              : `${user.username} can no longer sign in; their sessions end and their API tokens are refused. Their history stays, and they can be reactivated later.`}
          </DialogContentText>
          <ErrorAlert error={change.error} />
        </Stack>
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" color={activate ? "primary" : "error"} onClick={() => change.mutate()} disabled={change.isPending}>
          {activate ? "Reactivate" : "Deactivate"}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
