// /jobs/:id/versions: every version of a job (who, when, why, what changed), a line diff
// between any two of them, and reverting to one (as a new version).
import {
  Alert,
  Box,
  Button,
  Chip,
  MenuItem,
  Paper,
  Radio,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";
import RestoreIcon from "@mui/icons-material/Restore";
import { useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { ConfirmDialog } from "./dialogs";
import { toYaml } from "./diff";
import { DiffView } from "./DiffView";
import { formatWhen, personName } from "./format";
import type { Job } from "./model";
import { useJob, useJobAction, useVersion, useVersions, type VersionSummary } from "./queries";
import { Section } from "./Section";

const SIZES = [10, 25, 50];

/** What a version changed, in a few words, from the API's diff. */
export function summarize(diff: Record<string, unknown>): string {
  if (!diff || Object.keys(diff).length === 0) return "no change";
  if (diff.created) return "created";
  const parts: string[] = [];
  for (const [field, change] of Object.entries(diff)) {
    if (field === "steps" || field === "parameters") {
      const section = change as { added?: string[]; removed?: string[]; changed?: Record<string, unknown>; reordered?: unknown };
      const bits = [
        ...(section.added ?? []).map((name) => `+${name}`),
        ...(section.removed ?? []).map((name) => `−${name}`),
        ...Object.keys(section.changed ?? {}).map((name) => `~${name}`),
        ...(section.reordered ? ["reordered"] : []),
      ];
      parts.push(`${field}: ${bits.join(", ")}`);
    } else {
      parts.push(`${field.replace(/_/g, " ")} changed`);
    }
  }
  return parts.join("; ");
}

function versionNumber(value: string | null): number | null {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : null;
}

export default function VersionsPage() {
  const { id = "" } = useParams();
  const job = useJob(id);
  if (job.isPending) return <PageLoading label="Loading the job" />;
  if (job.isError) {
    return (
      <>
        <PageHeader title="Versions" />
        <ErrorAlert error={job.error} />
      </>
    );
  }
  return <Versions job={job.data} />;
}

function Versions({ job }: { job: Job }) {
  const [params, setParams] = useSearchParams();
  const latest = job.version;
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 10;
  const to = Math.min(versionNumber(params.get("to")) ?? latest, latest);
  const from = Math.min(versionNumber(params.get("from")) ?? Math.max(1, to - 1), latest);
  const versions = useVersions(job.id, page, pageSize);
  const action = useJobAction(job.id);
  const [reverting, setReverting] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const set = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) next.delete(name);
      else next.set(name, value);
    }
    setParams(next, { replace: true });
  };

  const revert = async () => {
    if (reverting === null) return;
    try {
      const updated = await action.mutateAsync({ kind: "revert", version: reverting });
      setNotice(
        updated && updated.version !== latest
          ? `Version ${reverting} is current again, as version ${updated.version}.`
          : `Version ${reverting} is the same as the current definition: nothing changed.`,
      );
      setReverting(null);
      set({ from: null, to: null, page: null });
    } catch {
      // shown in the dialog
    }
  };

  return (
    <>
      <PageHeader
        title={`Versions of ${job.name}`}
        subtitle={`${latest} version${latest === 1 ? "" : "s"}; version ${latest} is current. Runs keep the version they started with.`}
        actions={
          <Button component={Link} to={`/jobs/${job.id}`}>
            Back to the job
          </Button>
        }
      />
      {notice ? (
        <Alert severity="success" onClose={() => setNotice(null)} sx={{ mb: 2 }}>
          {notice}
        </Alert>
      ) : null}
      {job.archived ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          This job is archived: unarchive it to revert to a version.
        </Alert>
      ) : null}
      {versions.isError ? <ErrorAlert error={versions.error} /> : null}
      {versions.isPending ? (
        <PageLoading label="Loading versions" />
      ) : versions.data ? (
        <Paper variant="outlined" sx={{ mb: 3 }}>
          <TableContainer>
            <Table size="small" aria-label="Versions">
              <TableHead>
                <TableRow>
                  <TableCell>Version</TableCell>
                  <TableCell>When</TableCell>
                  <TableCell>Who</TableCell>
                  <TableCell>Message</TableCell>
                  <TableCell>Changes</TableCell>
                  <TableCell align="center">Compare from</TableCell>
                  <TableCell align="center">to</TableCell>
                  <TableCell align="right">Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {versions.data.results.map((version) => (
                  <VersionRow
                    key={version.number}
                    version={version}
                    current={version.number === latest}
                    from={from}
                    to={to}
                    archived={job.archived}
                    onCompare={(which) => set({ [which]: String(version.number) })}
                    onRevert={() => {
                      action.reset();
                      setReverting(version.number);
                    }}
                  />
                ))}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={versions.data.count}
            page={page - 1}
            rowsPerPage={pageSize}
            rowsPerPageOptions={SIZES}
            onPageChange={(_, next) => set({ page: next === 0 ? null : String(next + 1) })}
            onRowsPerPageChange={(event) => set({ page_size: event.target.value === "10" ? null : event.target.value, page: null })}
          />
        </Paper>
      ) : null}
      <Section title="Compare two versions" id="section-compare" description="The whole definition of each, line by line (secret defaults masked).">
        <Stack direction="row" spacing={2} sx={{ mb: 2 }}>
          {(["from", "to"] as const).map((which) => (
            <TextField
              key={which}
              select
              size="small"
              label={which === "from" ? "From version" : "To version"}
              value={which === "from" ? from : to}
              onChange={(event) => set({ [which]: event.target.value })}
              sx={{ minWidth: 160 }}
            >
              {Array.from({ length: latest }, (_, i) => latest - i).map((n) => (
                <MenuItem key={n} value={n}>
                  {n}
                  {n === latest ? " (current)" : ""}
                </MenuItem>
              ))}
            </TextField>
          ))}
        </Stack>
        <VersionDiff jobId={job.id} from={from} to={to} />
      </Section>
      <ConfirmDialog
        open={reverting !== null}
        title={`Revert to version ${reverting}?`}
        confirm="Revert"
        busy={action.isPending}
        error={action.error}
        onClose={() => setReverting(null)}
        onConfirm={() => void revert()}
      >
        The definition of version {reverting} becomes current again as a new version (the job keeps its name). Nothing
        is lost: every version stays in this history.
      </ConfirmDialog>
    </>
  );
}

function VersionRow({
  version,
  current,
  from,
  to,
  archived,
  onCompare,
  onRevert,
}: {
  version: VersionSummary;
  current: boolean;
  from: number;
  to: number;
  archived: boolean;
  onCompare: (which: "from" | "to") => void;
  onRevert: () => void;
}) {
  const n = version.number;
  return (
    <TableRow hover selected={n === from || n === to}>
      <TableCell>
        <Stack direction="row" spacing={1} alignItems="center">
          <span>{n}</span>
          {current ? <Chip size="small" label="current" color="primary" variant="outlined" /> : null}
        </Stack>
      </TableCell>
      <TableCell>
        <Tooltip title={new Date(version.created_at).toLocaleString()}>
          <span>{formatWhen(version.created_at)}</span>
        </Tooltip>
      </TableCell>
      <TableCell>{personName(version.created_by)}</TableCell>
      <TableCell>{version.message || <Typography variant="body2" color="text.secondary">—</Typography>}</TableCell>
      <TableCell sx={{ maxWidth: 320 }}>
        <Typography variant="body2" sx={{ fontFamily: "monospace", fontSize: "0.8rem" }}>
          {summarize(version.diff)}
        </Typography>
      </TableCell>
      <TableCell align="center">
        <Radio checked={n === from} onChange={() => onCompare("from")} slotProps={{ input: { "aria-label": `Compare from version ${n}` } }} />
      </TableCell>
      <TableCell align="center">
        <Radio checked={n === to} onChange={() => onCompare("to")} slotProps={{ input: { "aria-label": `Compare to version ${n}` } }} />
      </TableCell>
      <TableCell align="right">
        {current ? null : (
          <GatedButton needs="editJobs" size="small" startIcon={<RestoreIcon />} disabled={archived} onClick={onRevert} aria-label={`Revert to version ${n}`}>
            Revert to this version
          </GatedButton>
        )}
      </TableCell>
    </TableRow>
  );
}

function VersionDiff({ jobId, from, to }: { jobId: string; from: number; to: number }) {
  const before = useVersion(jobId, from);
  const after = useVersion(jobId, to);
  const beforeLines = useMemo(() => (before.data ? toYaml(before.data.definition) : null), [before.data]);
  const afterLines = useMemo(() => (after.data ? toYaml(after.data.definition) : null), [after.data]);
  if (before.isError || after.isError) return <ErrorAlert error={before.error ?? after.error} />;
  if (!beforeLines || !afterLines) return <PageLoading label="Loading the versions to compare" />;
  return (
    <Box>
      <DiffView before={beforeLines} after={afterLines} label={`Changes from version ${from} to version ${to}`} />
    </Box>
  );
}
