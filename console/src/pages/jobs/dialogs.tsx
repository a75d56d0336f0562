// The confirmations of the jobs pages: a yes/no question, and a name to give a copy.
import { Button, Dialog, DialogActions, DialogContent, DialogContentText, DialogTitle, TextField } from "@mui/material";
import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";

export function ConfirmDialog({
  open,
  title,
  children,
  confirm,
  danger,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirm: string;
  danger?: boolean;
  busy?: boolean;
  error?: unknown;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Dialog open={open} onClose={busy ? undefined : onClose} aria-labelledby="confirm-title" aria-describedby="confirm-text">
      <DialogTitle id="confirm-title">{title}</DialogTitle>
      <DialogContent>
        <DialogContentText id="confirm-text" component="div">
          {children}
        </DialogContentText>
        {error ? <ErrorAlert error={error} /> : null}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose} disabled={busy}>
          Cancel
        </Button>
        <Button onClick={onConfirm} variant="contained" color={danger ? "error" : "primary"} disabled={busy}>
          {confirm}
        </Button>
      </DialogActions>
    </Dialog>
  );
}

export function CloneDialog({
  open,
  source,
  busy,
  error,
  onClone,
  onClose,
}: {
  open: boolean;
  source: string;
  busy?: boolean;
  error?: unknown;
  onClone: (name: string) => void;
  onClose: () => void;
}) {
  const [name, setName] = useState(`${source} (copy)`);
  const nameError = error instanceof ApiError ? error.fieldErrors("name").join(" ") : "";
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onClone(name.trim());
  };
  return (
    <Dialog open={open} onClose={busy ? undefined : onClose} aria-labelledby="clone-title">
      <form onSubmit={submit} noValidate>
        <DialogTitle id="clone-title">Clone {source}</DialogTitle>
        <DialogContent>
          <DialogContentText sx={{ mb: 2 }}>
            A new job with the same definition (secret defaults included) and a history of its own.
          </DialogContentText>
          <TextField
            autoFocus
            label="Name of the copy"
            required
            value={name}
            onChange={(event) => setName(event.target.value)}
            error={Boolean(nameError)}
            helperText={nameError || undefined}
            fullWidth
          />
          {error ? <ErrorAlert error={error} shownFields={["name"]} /> : null}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="contained" disabled={busy || !name.trim()}>
            Clone
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
