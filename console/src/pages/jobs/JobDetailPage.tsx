// /jobs/:id: a job's definition read-only, what can be done with it (launch, edit, clone,
// archive, export, delete), and the plan of a run without running it.
import { Alert, Box, Button, Chip, Menu, MenuItem, Stack, Typography } from "@mui/material";
import Archive from "@mui/icons-material/Archive";
import ContentCopy from "@mui/icons-material/ContentCopy";
import Delete from "@mui/icons-material/Delete";
import Download from "@mui/icons-material/Download";
import Edit from "@mui/icons-material/Edit";
import Event from "@mui/icons-material/Event";
import History from "@mui/icons-material/History";
import PlayArrow from "@mui/icons-material/PlayArrow";
import Unarchive from "@mui/icons-material/Unarchive";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { DefinitionView } from "./DefinitionView";
import { CloneDialog, ConfirmDialog } from "./dialogs";
import { formatWhen, personName } from "./format";
import { GatedLink } from "./GatedLink";
import type { Definition, Job } from "./model";
import { PlanPanel } from "./PlanPanel";
import { useJob, useJobAction } from "./queries";
import { Section } from "./Section";

type Dialog = null | "clone" | "archive" | "delete";

export function definitionFromJob(job: Job): Definition {
  return job as unknown as Definition;
}

export default function JobDetailPage() {
  const { id = "" } = useParams();
  const job = useJob(id);
  if (job.isPending) return <PageLoading label="Loading the job" />;
  if (job.isError) {
    return (
      <>
        <PageHeader title="Job" />
        <ErrorAlert error={job.error} />
        <Button component={Link} to="/jobs" sx={{ mt: 2 }}>
          Back to the jobs
        </Button>
      </>
    );
  }
  return <JobDetail job={job.data} />;
}

function JobDetail({ job }: { job: Job }) {
  const navigate = useNavigate();
  const action = useJobAction(job.id);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [exportAnchor, setExportAnchor] = useState<HTMLElement | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const definition = definitionFromJob(job);

  const open = (which: Dialog) => {
    action.reset();
    setDialog(which);
  };
  const run = async (body: Parameters<typeof action.mutateAsync>[0], done: (result: Job | null) => void) => {
    try {
      done(await action.mutateAsync(body));
      setDialog(null);
    } catch {
      // shown in the dialog, or under the header
    }
  };

  return (
    <>
      <PageHeader
        title={job.name}
        subtitle={
          <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap component="span">
            <span>
              Version {job.version} · owner {personName(job.owner)} · updated {formatWhen(job.updated_at)}
            </span>
            {job.archived ? <Chip size="small" icon={<Archive />} label="Archived" variant="outlined" /> : null}
          </Stack>
        }
        actions={
          <GatedLink needs="launch" to={`/jobs/${job.id}/launch`} variant="contained" startIcon={<PlayArrow />} disabled={job.archived}>
            Launch
          </GatedLink>
        }
      />
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap sx={{ mb: 2 }} role="toolbar" aria-label="Job actions">
        <GatedLink needs="editJobs" to={`/jobs/${job.id}/edit`} startIcon={<Edit />} disabled={job.archived}>
          Edit
        </GatedLink>
        <GatedButton needs="editJobs" startIcon={<ContentCopy />} onClick={() => open("clone")}>
          Clone
        </GatedButton>
        {job.archived ? (
          <GatedButton
            needs="editJobs"
            startIcon={<Unarchive />}
            disabled={action.isPending}
            onClick={() => {
              setDialog(null);
              void run({ kind: "unarchive" }, () => setNotice("Unarchived: the job can be changed and launched again."));
            }}
          >
            Unarchive
          </GatedButton>
        ) : (
          <GatedButton needs="editJobs" startIcon={<Archive />} onClick={() => open("archive")}>
            Archive
          </GatedButton>
        )}
        <Button
          startIcon={<Download />}
          aria-haspopup="menu"
          aria-expanded={Boolean(exportAnchor)}
          onClick={(event) => setExportAnchor(event.currentTarget)}
        >
          Export
        </Button>
        <Menu anchorEl={exportAnchor} open={Boolean(exportAnchor)} onClose={() => setExportAnchor(null)}>
          {(["yaml", "json"] as const).map((format) => (
            <MenuItem
              key={format}
              component="a"
              href={`/api/v1/jobs/${job.id}/export/?as=${format}`}
              download={`${job.name}.${format}`}
              onClick={() => setExportAnchor(null)}
            >
              Download {format.toUpperCase()}
            </MenuItem>
          ))}
        </Menu>
        <Button component={Link} to={`/jobs/${job.id}/versions`} startIcon={<History />}>
          Versions ({job.version})
        </Button>
        <GatedLink needs="editSchedules" to={`/schedules/new?job=${job.id}`} startIcon={<Event />} disabled={job.archived}>
          Schedule this job
        </GatedLink>
        <Button component={Link} to={`/schedules?job=${job.id}`}>
          Its schedules
        </Button>
        <GatedButton needs="editJobs" startIcon={<Delete />} color="error" onClick={() => open("delete")}>
          Delete
        </GatedButton>
      </Stack>
      {notice ? (
        <Alert severity="success" onClose={() => setNotice(null)} sx={{ mb: 2 }}>
          {notice}
        </Alert>
      ) : null}
      {action.isError && dialog === null ? <ErrorAlert error={action.error} onClose={() => action.reset()} /> : null}
      {job.archived ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          This job is archived: it cannot be launched or changed until it is unarchived. Its runs keep their history.
        </Alert>
      ) : null}
      <Box sx={{ display: "grid", gap: 3 }}>
        <DefinitionView definition={definition} />
        <Section
          title="Plan a run"
          id="section-plan"
          description="What a run would do with these values, without running anything: the targets it would hit and each step as it would run there (secrets masked)."
        >
          <PlanPanel jobId={job.id} parameters={definition.parameters} defaultSelector={definition.default_selector} />
        </Section>
      </Box>
      {dialog === "clone" ? (
        <CloneDialog
          open
          source={job.name}
          busy={action.isPending}
          error={action.error}
          onClose={() => setDialog(null)}
          onClone={(name) => void run({ kind: "clone", name }, (copy) => copy && navigate(`/jobs/${copy.id}`))}
        />
      ) : null}
      <ConfirmDialog
        open={dialog === "archive"}
        title={`Archive ${job.name}?`}
        confirm="Archive"
        busy={action.isPending}
        error={action.error}
        onClose={() => setDialog(null)}
        onConfirm={() => void run({ kind: "archive" }, () => setNotice("Archived. Unarchive it to change or launch it again."))}
      >
        An archived job cannot be launched or changed; its runs and versions stay, and unarchiving it brings it back.
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "delete"}
        title={`Delete ${job.name}?`}
        confirm="Delete"
        danger
        busy={action.isPending}
        error={action.error}
        onClose={() => setDialog(null)}
        onConfirm={() => void run({ kind: "delete" }, () => navigate("/jobs", { replace: true }))}
      >
        <Typography component="span">
          The job and all its versions go for good. A job that has runs cannot be deleted: archive it instead.
        </Typography>
      </ConfirmDialog>
    </>
  );
}
