// /jobs/import: a job from a definition in YAML or JSON (an export of this or another
// installation), pasted or read from a file; the API's problems listed by where they are in it.
import { Alert, AlertTitle, Box, Button, List, ListItem, ListItemText, Stack, TextField, Typography } from "@mui/material";
import UploadFile from "@mui/icons-material/UploadFile";
import { useState, type ChangeEvent, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { ApiError } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { useImportJob } from "./queries";

const MAX_BYTES = 2 * 1024 * 1024;

/** Where a dotted path points, in words: `steps.1.command` → "Step 2 › command". */
export function describePath(path: string, document?: unknown): string {
  const parts = path.split(".");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i];
    const index = Number(part);
    const section = parts[i - 1];
    if (Number.isInteger(index) && (section === "steps" || section === "parameters")) {
      out.pop();
      const item = (document as Record<string, { name?: string }[]> | undefined)?.[section]?.[index];
      const noun = section === "steps" ? "Step" : "Parameter";
      out.push(`${noun} ${index + 1}${item?.name ? ` (${item.name})` : ""}`);
    } else if (part === "non_field_errors" || part === "__all__") {
      continue;
    } else {
      out.push(part.replace(/_/g, " "));
    }
  }
  return out.join(" › ") || "the document";
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export default function ImportPage() {
  const navigate = useNavigate();
  const importJob = useImportJob();
  const [text, setText] = useState("");
  const [fileName, setFileName] = useState<string | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);

  const readFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    setFileError(null);
    if (file.size > MAX_BYTES) {
      setFileError(`${file.name} is larger than 2 MB, the most the API takes.`);
      return;
    }
    setText(await file.text());
    setFileName(file.name);
    importJob.reset();
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const job = await importJob.mutateAsync(text);
      navigate(`/jobs/${job.id}`);
    } catch {
      // listed below
    }
  };

  const error = importJob.error;
  const fields = error instanceof ApiError ? Object.entries(error.fields) : [];
  const document = fields.length > 0 ? parsedJson(text) : undefined;

  return (
    <Box component="form" onSubmit={submit} noValidate aria-label="Import a job">
      <PageHeader
        title="Import a job"
        subtitle="A definition in YAML or JSON, as Export writes it. Secret defaults sealed by this installation are kept; from another one, give them as default again."
        actions={
          <Button component={Link} to="/jobs">
            Cancel
          </Button>
        }
      />
      <Stack spacing={2}>
        <Stack direction="row" spacing={2} alignItems="center">
          <Button component="label" variant="outlined" startIcon={<UploadFile />}>
            Read a file
            <input type="file" hidden accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml,text/plain" onChange={readFile} />
          </Button>
          <Typography variant="body2" color="text.secondary">
            {fileName ? `Read from ${fileName}; edit it below if needed.` : "or paste the definition below."}
          </Typography>
        </Stack>
        {fileError ? <Alert severity="error">{fileError}</Alert> : null}
        <TextField
          label="Definition (YAML or JSON)"
          multiline
          minRows={16}
          maxRows={40}
          value={text}
          onChange={(event) => setText(event.target.value)}
          slotProps={{ htmlInput: { style: { fontFamily: "monospace", fontSize: "0.85rem" }, spellCheck: false } }}
          placeholder={"name: deploy\nsteps:\n  - name: hello\n    kind: command\n    command: echo hello"}
          error={fields.length > 0}
          fullWidth
        />
        {error ? (
          fields.length > 0 ? (
            <Alert severity="error" role="alert">
              <AlertTitle>The definition has {fields.length} problem{fields.length === 1 ? "" : "s"}</AlertTitle>
              <List dense disablePadding>
                {fields.map(([path, messages]) => (
                  <ListItem key={path} disableGutters>
                    <ListItemText
                      primary={describePath(path, document)}
                      secondary={
                        <>
                          <code>{path}</code>: {messages.join(" ")}
                        </>
                      }
                    />
                  </ListItem>
                ))}
              </List>
              {error instanceof ApiError && error.requestId ? <Typography variant="caption">Request id {error.requestId}</Typography> : null}
            </Alert>
          ) : (
            <ErrorAlert error={error} />
          )
        ) : null}
        <Box>
          <GatedButton needs="editJobs" type="submit" variant="contained" disabled={!text.trim() || importJob.isPending}>
            {importJob.isPending ? "Importing…" : "Import"}
          </GatedButton>
        </Box>
      </Stack>
    </Box>
  );
}
