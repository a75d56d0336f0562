// /account, for every signed-in user: the profile (names and email; the rest is an admin's to
// change), the password, the user's API tokens, and the keyboard shortcuts' switch.
import {
  Alert,
  Box,
  Button,
  FormControlLabel,
  Stack,
  Switch,
  TextField,
  Typography,
} from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useLocation } from "react-router";
import { api, ApiError, unwrap } from "../../api/client";
import { ME_KEY, PASSWORD_CHANGED_KEY, useMe } from "../../auth/session";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { Time } from "../../components/Time";
import { useShortcutsSetting } from "../../app/shortcuts";
import { useKeyboard } from "../../app/KeyboardLayer";
import { Section } from "./Section";
import { TokensSection } from "./TokensSection";

function fieldError(error: unknown, name: string): string | undefined {
  return error instanceof ApiError ? error.fieldErrors(name).join(" ") || undefined : undefined;
}

function Profile() {
  const me = useMe();
  const client = useQueryClient();
  const [form, setForm] = useState({ first_name: me.first_name ?? "", last_name: me.last_name ?? "", email: me.email ?? "" });
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/v1/me/", { body: form })),
    onSuccess: (updated) => {
      client.setQueryData(ME_KEY, updated);
      setSaved(true);
    },
  });
  const err = (name: string) => fieldError(save.error, name);
  const set = (name: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement>) => {
    setSaved(false);
    setForm({ ...form, [name]: event.target.value });
  };
  return (
    <Section id="profile" title="Profile" description="Your username, role and auditor capability are set by an admin.">
      <Stack
        component="form"
        aria-label="Profile"
        spacing={2}
        noValidate
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          save.mutate();
        }}
        sx={{ maxWidth: 560 }}
      >
        <Typography variant="body2">
          <strong>{me.username}</strong> · role {me.role}
          {me.is_auditor ? " · auditor" : ""} · joined <Time value={me.date_joined} />
        </Typography>
        <ErrorAlert error={save.error} shownFields={["first_name", "last_name", "email"]} />
        {saved ? (
          <Alert severity="success" role="status">
            Your profile was saved.
          </Alert>
        ) : null}
        <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
          <TextField label="First name" size="small" fullWidth value={form.first_name} onChange={set("first_name")} error={Boolean(err("first_name"))} helperText={err("first_name")} />
          <TextField label="Last name" size="small" fullWidth value={form.last_name} onChange={set("last_name")} error={Boolean(err("last_name"))} helperText={err("last_name")} />
        </Stack>
        <TextField label="Email" type="email" size="small" value={form.email} onChange={set("email")} error={Boolean(err("email"))} helperText={err("email")} />
        <Box>
          <Button type="submit" variant="contained" disabled={save.isPending}>
            Save profile
          </Button>
        </Box>
      </Stack>
    </Section>
  );
}

function Password() {
  const client = useQueryClient();
  const [form, setForm] = useState({ old: "", new: "", again: "" });
  const [mismatch, setMismatch] = useState(false);
  const change = useMutation({
    mutationFn: (body: { old_password: string; new_password: string }) => unwrap(api.POST("/api/v1/me/password/", { body })),
    onSettled: () => setForm({ old: "", new: "", again: "" }),
    onSuccess: () => {
      // the server ended every session of this user, this one too: the sign-in page says why
      window.sessionStorage.setItem(PASSWORD_CHANGED_KEY, "1");
      client.invalidateQueries({ queryKey: ME_KEY });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (form.new !== form.again) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    change.mutate({ old_password: form.old, new_password: form.new });
  };
  const err = (name: string) => fieldError(change.error, name);
  return (
    <Section
      id="password"
      title="Password"
      description="Changing it ends every session you have (this one too: you sign in again with the new password). Your API tokens keep working."
    >
      <Stack component="form" aria-label="Change password" spacing={2} noValidate onSubmit={submit} sx={{ maxWidth: 560 }}>
        <ErrorAlert error={change.error} shownFields={["old_password", "new_password"]} />
        <TextField
          label="Current password"
          type="password"
          autoComplete="current-password"
          size="small"
          required
          value={form.old}
          onChange={(event) => setForm({ ...form, old: event.target.value })}
          error={Boolean(err("old_password"))}
          helperText={err("old_password")}
        />
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          size="small"
          required
          value={form.new}
          onChange={(event) => setForm({ ...form, new: event.target.value })}
          error={Boolean(err("new_password"))}
          helperText={err("new_password") ?? "At least 8 characters, not too common, not like your username."}
        />
        <TextField
          label="New password again"
          type="password"
          autoComplete="new-password"
          size="small"
          required
          value={form.again}
          onChange={(event) => {
            setMismatch(false);
            setForm({ ...form, again: event.target.value });
          }}
          error={mismatch}
          helperText={mismatch ? "The two new passwords differ." : undefined}
        />
        <Box>
          <Button type="submit" variant="contained" disabled={change.isPending || !form.old || !form.new}>
            Change password
          </Button>
        </Box>
      </Stack>
    </Section>
  );
}

function Shortcuts() {
  const [enabled, setEnabled] = useShortcutsSetting();
  const { openSheet } = useKeyboard();
  return (
    <Section
      id="shortcuts"
      title="Keyboard shortcuts"
      description="Single keys (? for the list, g then a letter to go to a page, / to search, j and k to move in lists). They never fire while you type in a field. Turn them off if they get in the way of a screen reader or voice control; the command palette (Ctrl K) stays. Kept in this browser."
    >
      <Stack direction="row" spacing={2} alignItems="center">
        <FormControlLabel control={<Switch checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />} label="Single-key shortcuts" />
        <Button onClick={openSheet}>Show the shortcuts</Button>
      </Stack>
    </Section>
  );
}

export default function AccountPage() {
  const location = useLocation();
  useEffect(() => {
    if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView?.();
  }, [location.hash]);
  return (
    <Stack spacing={2}>
      <PageHeader title="My account" subtitle="Your profile, password and API tokens, and this browser's keyboard shortcuts." />
      <Profile />
      <Password />
      <TokensSection />
      <Shortcuts />
    </Stack>
  );
}
