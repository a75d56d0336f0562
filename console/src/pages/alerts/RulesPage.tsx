// Alert rules: which job (every run of it) or schedule tells which channel of which events.
// Filters (jobs or schedules, channel) and the page live in the URL.
import {
  Alert,
  Button,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Link,
  MenuItem,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { RuleDialog } from "./RuleForm";
import { ALERTS_KEY, AlertTabs, EVENT_LABELS, type AlertRule, type Channel, type Paged } from "./common";

const PAGE_SIZES = [25, 50, 100];

export default function RulesPage() {
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const on = params.get("on") === "job" || params.get("on") === "schedule" ? (params.get("on") as "job" | "schedule") : "";
  const channel = params.get("channel") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [dialog, setDialog] = useState<{ mode: "create" } | { mode: "edit" | "delete"; rule: AlertRule } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const change = (updates: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(updates)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };

  const channels = useQuery({
    queryKey: [...ALERTS_KEY, "channels"],
    queryFn: () =>
      unwrap(api.GET("/api/v1/notification-channels/", { params: { query: { page_size: 200 } } })) as Promise<Paged<Channel>>,
    retry: false,
  });
  const rules = useQuery({
    queryKey: [...ALERTS_KEY, "rules", on, channel, page, pageSize],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/alert-rules/", {
          params: { query: { on: on || undefined, channel: channel || undefined, page, page_size: pageSize } },
        }),
      ) as Promise<Paged<AlertRule>>,
    placeholderData: keepPreviousData,
    retry: false,
  });
  const destroy = useMutation({
    mutationFn: (rule: AlertRule) => unwrap(api.DELETE("/api/v1/alert-rules/{id}/", { params: { path: { id: rule.id } } })),
    onSuccess: (_, rule) => {
      client.invalidateQueries({ queryKey: [...ALERTS_KEY, "rules"] });
      setDialog(null);
      setNotice(`The rule on ${rule.subject_name || "its subject"} was deleted.`);
    },
  });
  const saved = (message: string) => {
    client.invalidateQueries({ queryKey: [...ALERTS_KEY, "rules"] });
    setDialog(null);
    setNotice(message);
  };
  const channelList = channels.data?.results ?? [];

  return (
    <Stack spacing={2}>
      <PageHeader
        title="Alerts"
        subtitle="Where alerts go (signed webhooks, email), which runs raise them, and every delivery."
        actions={
          <GatedButton
            needs="editAlerts"
            variant="contained"
            startIcon={<Add />}
            onClick={() => setDialog({ mode: "create" })}
            disabled={channels.isPending}
          >
            New rule
          </GatedButton>
        }
      />
      <AlertTabs />
      {notice ? (
        <Alert severity="success" onClose={() => setNotice(null)} role="status">
          {notice}
        </Alert>
      ) : null}
      <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
        <TextField
          select
          size="small"
          label="Rules on"
          value={on}
          onChange={(event) => change({ on: event.target.value || null, page: null })}
          sx={{ minWidth: 200 }}
          slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
        >
          <MenuItem value="">Jobs and schedules</MenuItem>
          <MenuItem value="job">Jobs</MenuItem>
          <MenuItem value="schedule">Schedules</MenuItem>
        </TextField>
        <TextField
          select
          size="small"
          label="Channel"
          value={channelList.some((c) => c.name === channel) ? channel : ""}
          onChange={(event) => change({ channel: event.target.value || null, page: null })}
          sx={{ minWidth: 220 }}
          slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
        >
          <MenuItem value="">Any channel</MenuItem>
          {channelList.map((c) => (
            <MenuItem key={c.id} value={c.name}>
              {c.name}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {rules.error ? <ErrorAlert error={rules.error} /> : null}
      {rules.isPending ? (
        <PageLoading label="Loading alert rules" />
      ) : rules.data && rules.data.count === 0 ? (
        <Paper variant="outlined" sx={{ p: 3 }}>
          <Typography>
            {on || channel
              ? "No rule matches these filters."
              : channelList.length
                ? "No alert rules yet. Add one: pick a job (every run of it counts, however it was launched) or a schedule, a channel, and the events to be told of."
                : "No alert rules yet. Create a notification channel first (on the Channels tab), then add a rule here."}
          </Typography>
        </Paper>
      ) : rules.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Alert rules">
              <TableHead>
                <TableRow>
                  <TableCell scope="col">On</TableCell>
                  <TableCell scope="col">Channel</TableCell>
                  <TableCell scope="col">Events</TableCell>
                  <TableCell scope="col">Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {rules.data.results.map((rule) => (
                  <TableRow key={rule.id}>
                    <TableCell>
                      {rule.schedule ? "Schedule " : "Job "}
                      {rule.job ? (
                        <Link component={RouterLink} to={`/jobs/${rule.job}`}>
                          {rule.subject_name || "(deleted job)"}
                        </Link>
                      ) : (
                        <strong>{rule.subject_name || "(deleted schedule)"}</strong>
                      )}
                    </TableCell>
                    <TableCell>{rule.channel}</TableCell>
                    <TableCell>
                      <Stack direction="row" spacing={0.5} flexWrap="wrap" useFlexGap>
                        {rule.events.map((event) => (
                          <Chip key={event} size="small" variant="outlined" label={EVENT_LABELS[event] ?? event} />
                        ))}
                      </Stack>
                    </TableCell>
                    <TableCell>
                      <Stack direction="row" spacing={1}>
                        <GatedButton
                          needs="editAlerts"
                          size="small"
                          onClick={() => setDialog({ mode: "edit", rule })}
                          aria-label={`Edit the rule on ${rule.subject_name}`}
                        >
                          Edit
                        </GatedButton>
                        <GatedButton
                          needs="editAlerts"
                          size="small"
                          color="error"
                          onClick={() => setDialog({ mode: "delete", rule })}
                          aria-label={`Delete the rule on ${rule.subject_name}`}
                        >
                          Delete
                        </GatedButton>
                      </Stack>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={rules.data.count}
            page={page - 1}
            rowsPerPage={pageSize}
            rowsPerPageOptions={PAGE_SIZES}
            onPageChange={(_, next) => change({ page: next ? String(next + 1) : null })}
            onRowsPerPageChange={(event) => change({ page_size: event.target.value, page: null })}
          />
        </Paper>
      ) : null}

      {dialog?.mode === "create" ? (
        <RuleDialog
          channels={channelList}
          onClose={() => setDialog(null)}
          onSaved={(rule) => saved(`${rule.channel} will be told when ${rule.subject_name} has: ${rule.events.join(", ")}.`)}
        />
      ) : null}
      {dialog?.mode === "edit" ? (
        <RuleDialog
          rule={dialog.rule}
          channels={channelList}
          onClose={() => setDialog(null)}
          onSaved={() => saved("The rule was saved.")}
        />
      ) : null}
      {dialog?.mode === "delete" ? (
        <Dialog open onClose={() => setDialog(null)} aria-labelledby="delete-rule-title">
          <DialogTitle id="delete-rule-title">Delete the rule on {dialog.rule.subject_name}?</DialogTitle>
          <DialogContent>
            <DialogContentText>{dialog.rule.channel} will no longer be told of its runs.</DialogContentText>
            <ErrorAlert error={destroy.error} />
          </DialogContent>
          <DialogActions>
            <Button onClick={() => setDialog(null)}>Cancel</Button>
            <Button color="error" variant="contained" disabled={destroy.isPending} onClick={() => destroy.mutate(dialog.rule)}>
              Delete the rule
            </Button>
          </DialogActions>
        </Dialog>
      ) : null}
    </Stack>
  );
}
