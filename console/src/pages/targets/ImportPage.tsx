// Bulk import: paste or upload JSON or CSV, see what each row would do (a dry run: nothing is
// written), then import. The server imports all rows or none.
import {
  Alert,
  AlertTitle,
  Box,
  Button,
  Link as MuiLink,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  ToggleButton,
  ToggleButtonGroup,
  Typography,
} from "@mui/material";
import CheckCircle from "@mui/icons-material/CheckCircle";
import ErrorIcon from "@mui/icons-material/Error";
import UploadFile from "@mui/icons-material/UploadFile";
import { useQueryClient } from "@tanstack/react-query";
import { useId, useRef, useState, type ChangeEvent } from "react";
import { Link } from "react-router";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton, useCan } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import {
  CSV_EXAMPLE,
  guessFormat,
  JSON_EXAMPLE,
  postImport,
  previewRows,
  type ImportAnswer,
  type ImportFormat,
  type PreviewRow,
} from "./importing";

interface Checked {
  text: string;
  format: ImportFormat;
  answer: ImportAnswer;
  preview: PreviewRow[];
}

const MAX_BYTES = 5 * 1024 * 1024;

export function DryRunResult({ checked }: { checked: Checked }) {
  const { answer, preview } = checked;
  const problems = answer.kind === "refused" ? answer.problems : [];
  const byRow = new Map(problems.map((problem) => [problem.row, problem.fields]));
  const count = answer.kind === "valid" ? answer.rows : Math.max(preview.length, ...problems.map((p) => p.row));
  const rows =
    preview.length >= count
      ? preview
      : Array.from({ length: count }, (_, index) => preview[index] ?? { row: index + 1, name: "", address: "" });
  return (
    <Stack spacing={2}>
      {answer.kind === "valid" ? (
        <Alert severity="success" icon={<CheckCircle />}>
          <AlertTitle>Dry run passed: nothing was written</AlertTitle>
          All {answer.rows} row{answer.rows === 1 ? "" : "s"} would be created as new targets. Import
          never updates existing targets: a row with the name of an existing target adds another
          target of that name.
        </Alert>
      ) : answer.kind === "refused" ? (
        <Alert severity="error" icon={<ErrorIcon />}>
          <AlertTitle>Dry run refused: nothing would be imported</AlertTitle>
          {answer.message} The import is all or nothing: fix the refused rows and check again.
          {answer.requestId ? (
            <Box sx={{ opacity: 0.8, fontSize: "0.8em", mt: 0.5 }}>Request id {answer.requestId}</Box>
          ) : null}
        </Alert>
      ) : null}
      <TableContainer component={Paper} variant="outlined">
        <Table size="small" aria-label="What each row would do">
          <TableHead>
            <TableRow>
              <TableCell scope="col">Row</TableCell>
              <TableCell scope="col">Name</TableCell>
              <TableCell scope="col">Address</TableCell>
              <TableCell scope="col">Outcome</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((row) => {
              const fields = byRow.get(row.row);
              // rows refused by the server are "refused"; the others would be created only if
              // every row passes
              const outcome = fields
                ? "Refused"
                : answer.kind === "valid"
                  ? "Would be created"
                  : "Valid (not imported: other rows are refused)";
              return (
                <TableRow key={row.row} selected={Boolean(fields)}>
                  <TableCell>{row.row}</TableCell>
                  <TableCell>{row.name || <em>(no name)</em>}</TableCell>
                  <TableCell sx={{ fontFamily: "monospace" }}>{row.address || "—"}</TableCell>
                  <TableCell>
                    <Stack direction="row" spacing={1} alignItems="flex-start">
                      {fields ? (
                        <ErrorIcon color="error" fontSize="small" aria-hidden />
                      ) : (
                        <CheckCircle color="success" fontSize="small" aria-hidden />
                      )}
                      <Box>
                        <Typography variant="body2" fontWeight={fields ? 600 : 400}>
                          {outcome}
                        </Typography>
                        {fields ? (
                          <Box component="ul" sx={{ m: 0, pl: 2 }}>
                            {Object.entries(fields).map(([path, messages]) => (
                              <li key={path}>
                                <Typography variant="body2">
                                  <strong>{path === "non_field_errors" ? "row" : path}:</strong> {messages.join(" ")}
                                </Typography>
                              </li>
                            ))}
                          </Box>
                        ) : null}
                      </Box>
                    </Stack>
                  </TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      </TableContainer>
    </Stack>
  );
}

export default function ImportPage() {
  const client = useQueryClient();
  const mayImport = useCan("importTargets");
  const fileInput = useRef<HTMLInputElement>(null);
  const formatLabel = useId();
  const [text, setText] = useState("");
  const [format, setFormat] = useState<ImportFormat>("json");
  const [fileName, setFileName] = useState<string | null>(null);
  const [checked, setChecked] = useState<Checked | null>(null);
  const [imported, setImported] = useState<{ ids: string[]; preview: PreviewRow[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<"check" | "import" | null>(null);

  const current = checked && checked.text === text && checked.format === format ? checked : null;

  const edit = (value: string) => {
    setText(value);
    setImported(null);
    if (!fileName) setFormat(guessFormat(value));
  };

  async function readFile(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    setError(null);
    if (file.size > MAX_BYTES) {
      setError(new Error(`${file.name} is larger than 5 MiB, the most one import takes. Split it.`));
      return;
    }
    const content = await file.text();
    setFileName(file.name);
    setText(content);
    setFormat(guessFormat(content, file.name));
    setImported(null);
  }

  async function check() {
    setBusy("check");
    setError(null);
    setImported(null);
    try {
      const answer = await postImport(text, format, true);
      setChecked({ text, format, answer, preview: previewRows(text, format) });
    } catch (exc) {
      setChecked(null);
      setError(exc);
    } finally {
      setBusy(null);
    }
  }

  async function run() {
    if (!current) return;
    setBusy("import");
    setError(null);
    try {
      const answer = await postImport(current.text, current.format, false);
      if (answer.kind === "imported") {
        setImported({ ids: answer.ids, preview: current.preview });
        setChecked(null);
        setText("");
        setFileName(null);
        client.invalidateQueries({ queryKey: ["targets"] });
      } else {
        // something changed between the dry run and now (a credential removed, say)
        setChecked({ ...current, answer });
      }
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(null);
    }
  }

  return (
    <Stack spacing={3}>
      <PageHeader
        title="Import targets"
        subtitle="Paste or upload a JSON list or CSV. A dry run shows what each row would do before anything is written."
        actions={
          <Button component={Link} to="/targets">
            Back to targets
          </Button>
        }
      />
      {!mayImport ? (
        <Alert severity="info">Checking and importing targets need the manager role or above.</Alert>
      ) : null}
      {imported ? (
        <Alert severity="success" icon={<CheckCircle />} role="status">
          <AlertTitle>
            Imported {imported.ids.length} target{imported.ids.length === 1 ? "" : "s"}
          </AlertTitle>
          <Box component="ul" sx={{ m: 0, pl: 2, maxHeight: 240, overflow: "auto" }}>
            {imported.ids.map((id, index) => (
              <li key={id}>
                <MuiLink component={Link} to={`/targets/${id}`}>
                  {imported.preview[index]?.name || id}
                </MuiLink>
              </li>
            ))}
          </Box>
        </Alert>
      ) : null}
      <Paper variant="outlined" sx={{ p: 2 }}>
        <Stack spacing={2}>
          <Stack direction={{ xs: "column", sm: "row" }} spacing={2} alignItems={{ sm: "center" }}>
            <Typography id={formatLabel} variant="subtitle1" component="h2">
              Format
            </Typography>
            <ToggleButtonGroup
              exclusive
              size="small"
              value={format}
              aria-labelledby={formatLabel}
              onChange={(_, value: ImportFormat | null) => value && setFormat(value)}
            >
              <ToggleButton value="json">JSON</ToggleButton>
              <ToggleButton value="csv">CSV</ToggleButton>
            </ToggleButtonGroup>
            <Box sx={{ flexGrow: 1 }} />
            <input
              ref={fileInput}
              type="file"
              accept=".json,.csv,application/json,text/csv"
              hidden
              onChange={readFile}
              aria-label="Choose a JSON or CSV file"
            />
            <Button startIcon={<UploadFile />} variant="outlined" onClick={() => fileInput.current?.click()}>
              Upload a file
            </Button>
            <Button onClick={() => edit(format === "csv" ? CSV_EXAMPLE : JSON_EXAMPLE)}>Insert an example</Button>
          </Stack>
          {fileName ? (
            <Typography variant="body2" color="text.secondary">
              From {fileName}.{" "}
              <MuiLink component="button" type="button" onClick={() => setFileName(null)}>
                Forget the file name
              </MuiLink>
            </Typography>
          ) : null}
          <TextField
            label={format === "csv" ? "CSV with a header row" : "JSON list of targets"}
            multiline
            minRows={10}
            maxRows={24}
            value={text}
            onChange={(event) => edit(event.target.value)}
            slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: "monospace", fontSize: 13 } } }}
            helperText={
              format === "csv"
                ? "Columns: name, description, os_family, environment, location, data_center, region, status, host_key_policy, tags (space-separated), labels (k=v;k2=v2), and one connection method: protocol, host, port, username, credential (name or id)."
                : "Each item is shaped as a new target: name, environment, tags, labels, connection_methods, …"
            }
          />
          <Stack direction="row" spacing={1}>
            <GatedButton needs="importTargets" variant="outlined" onClick={check} disabled={!text.trim() || busy !== null}>
              {busy === "check" ? "Checking…" : "Check (dry run)"}
            </GatedButton>
            <GatedButton
              needs="importTargets"
              variant="contained"
              onClick={run}
              disabled={!current || current.answer.kind !== "valid" || busy !== null}
            >
              {busy === "import"
                ? "Importing…"
                : current?.answer.kind === "valid"
                  ? `Import ${current.answer.rows} target${current.answer.rows === 1 ? "" : "s"}`
                  : "Import"}
            </GatedButton>
          </Stack>
          {!current && text.trim() && !error ? (
            <Typography variant="body2" color="text.secondary">
              {checked ? "The text changed since the last check: check it again before importing." : "Check the rows first: importing is possible once a dry run passes."}
            </Typography>
          ) : null}
        </Stack>
      </Paper>
      {error ? <ErrorAlert error={error} /> : null}
      {current ? <DryRunResult checked={current} /> : null}
    </Stack>
  );
}
