// Notification channels: list, create, change, delete, and send a test notice through the real
// delivery path (its outcome shown here and recorded in the delivery log).
import {
  Alert,
  AlertTitle,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Link,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import Send from "@mui/icons-material/Send";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { ChannelDialog } from "./ChannelForm";
import { ALERTS_KEY, AlertTabs, destination, KIND_LABELS, type Channel, type ChannelTest, type Paged } from "./common";

export function TestOutcome({ result, onClose }: { result: { channel: string; answer: ChannelTest }; onClose: () => void }) {
  const { delivery, delivered } = result.answer;
  const status = delivery.response_status ? `HTTP ${delivery.response_status}` : null;
  return (
    <Alert severity={delivered ? "success" : "error"} onClose={onClose} role="status">
      <AlertTitle>
        {delivered ? `The test notice reached ${result.channel}` : `The test notice did not reach ${result.channel}`}
      </AlertTitle>
      {delivered
        ? `The receiver answered ${status ?? "OK"}${delivery.response_excerpt ? `: ${delivery.response_excerpt}` : "."}`
        : delivery.last_error || "It could not be sent."}{" "}
      <Link component={RouterLink} to={`/alerts/deliveries?channel=${encodeURIComponent(result.channel)}`}>
        See it in the delivery log
      </Link>
      .
    </Alert>
  );
}

export default function ChannelsPage() {
  const client = useQueryClient();
  const [dialog, setDialog] = useState<{ mode: "create" } | { mode: "edit" | "delete"; channel: Channel } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tested, setTested] = useState<{ channel: string; answer: ChannelTest } | null>(null);

  const channels = useQuery({
    queryKey: [...ALERTS_KEY, "channels"],
    queryFn: () =>
      unwrap(api.GET("/api/v1/notification-channels/", { params: { query: { page_size: 200 } } })) as Promise<Paged<Channel>>,
    retry: false,
  });
  const test = useMutation({
    mutationFn: (channel: Channel) =>
      unwrap(api.POST("/api/v1/notification-channels/{id}/test/", { params: { path: { id: channel.id } } })),
    onMutate: () => setTested(null),
    onSuccess: (answer, channel) => {
      setTested({ channel: channel.name, answer: answer as ChannelTest });
      client.invalidateQueries({ queryKey: [...ALERTS_KEY, "deliveries"] });
    },
  });
  const destroy = useMutation({
    mutationFn: (channel: Channel) =>
      unwrap(api.DELETE("/api/v1/notification-channels/{id}/", { params: { path: { id: channel.id } } })),
    onSuccess: (_, channel) => {
      client.invalidateQueries({ queryKey: ALERTS_KEY });
      setDialog(null);
      setNotice(`Channel ${channel.name} was deleted, with its rules.`);
    },
  });
  const saved = (message: string) => {
    client.invalidateQueries({ queryKey: ALERTS_KEY });
    setDialog(null);
    setNotice(message);
  };

  return (
    <Stack spacing={2}>
      <PageHeader
        title="Alerts"
        subtitle="Where alerts go (signed webhooks, email), which runs raise them, and every delivery."
        actions={
          <GatedButton needs="editAlerts" variant="contained" startIcon={<Add />} onClick={() => setDialog({ mode: "create" })}>
            New channel
          </GatedButton>
        }
      />
      <AlertTabs />
      {notice ? (
        <Alert severity="success" onClose={() => setNotice(null)} role="status">
          {notice}
        </Alert>
      ) : null}
      {tested ? <TestOutcome result={tested} onClose={() => setTested(null)} /> : null}
      {test.error ? <ErrorAlert error={test.error} onClose={() => test.reset()} /> : null}
      {channels.error ? <ErrorAlert error={channels.error} /> : null}
      {channels.isPending ? (
        <PageLoading label="Loading channels" />
      ) : channels.data && channels.data.count === 0 ? (
        <Paper variant="outlined" sx={{ p: 3 }}>
          <Typography>
            No notification channels yet. Create one (a webhook your chat or incident tool receives, or an email list),
            send it a test notice, then add a rule telling it when a job or a schedule fails.
          </Typography>
        </Paper>
      ) : channels.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Notification channels">
              <TableHead>
                <TableRow>
                  <TableCell scope="col">Name</TableCell>
                  <TableCell scope="col">Kind</TableCell>
                  <TableCell scope="col">Sends to</TableCell>
                  <TableCell scope="col">Signing secret</TableCell>
                  <TableCell scope="col">Enabled</TableCell>
                  <TableCell scope="col">Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {channels.data.results.map((channel) => (
                  <TableRow key={channel.id}>
                    <TableCell>
                      <Typography variant="body2" fontWeight={500}>
                        {channel.name}
                      </Typography>
                      {channel.description ? (
                        <Typography variant="caption" color="text.secondary">
                          {channel.description}
                        </Typography>
                      ) : null}
                    </TableCell>
                    <TableCell>{KIND_LABELS[channel.kind]}</TableCell>
                    <TableCell sx={{ overflowWrap: "anywhere" }}>
                      <code>{destination(channel)}</code>
                    </TableCell>
                    <TableCell>{channel.kind === "webhook" ? (channel.secret_set ? "Set" : "Missing") : "—"}</TableCell>
                    <TableCell>{channel.enabled ? "Yes" : "No (told nothing)"}</TableCell>
                    <TableCell>
                      <Stack direction="row" spacing={1}>
                        <GatedButton
                          needs="testChannels"
                          size="small"
                          startIcon={<Send />}
                          disabled={test.isPending}
                          onClick={() => test.mutate(channel)}
                          aria-label={`Send a test notice to ${channel.name}`}
                        >
                          {test.isPending && test.variables?.id === channel.id ? "Sending…" : "Test"}
                        </GatedButton>
                        <GatedButton
                          needs="editAlerts"
                          size="small"
                          onClick={() => setDialog({ mode: "edit", channel })}
                          aria-label={`Edit ${channel.name}`}
                        >
                          Edit
                        </GatedButton>
                        <GatedButton
                          needs="editAlerts"
                          size="small"
                          color="error"
                          onClick={() => setDialog({ mode: "delete", channel })}
                          aria-label={`Delete ${channel.name}`}
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
        </Paper>
      ) : null}

      {dialog?.mode === "create" ? (
        <ChannelDialog onClose={() => setDialog(null)} onSaved={(channel) => saved(`Channel ${channel.name} was created. Send it a test notice to check it.`)} />
      ) : null}
      {dialog?.mode === "edit" ? (
        <ChannelDialog channel={dialog.channel} onClose={() => setDialog(null)} onSaved={(channel) => saved(`Channel ${channel.name} was saved.`)} />
      ) : null}
      {dialog?.mode === "delete" ? (
        <Dialog open onClose={() => setDialog(null)} aria-labelledby="delete-channel-title">
          <DialogTitle id="delete-channel-title">Delete {dialog.channel.name}?</DialogTitle>
          <DialogContent>
            <DialogContentText>
              Its alert rules are deleted with it; its past deliveries stay in the log.
            </DialogContentText>
            <ErrorAlert error={destroy.error} />
          </DialogContent>
          <DialogActions>
            <Button onClick={() => setDialog(null)}>Cancel</Button>
            <Button color="error" variant="contained" disabled={destroy.isPending} onClick={() => destroy.mutate(dialog.channel)}>
              Delete the channel
            </Button>
          </DialogActions>
        </Dialog>
      ) : null}
    </Stack>
  );
}
