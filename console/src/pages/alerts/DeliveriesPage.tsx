// The delivery log: every notification sent to a channel, its outcome, each attempt with the
// receiver's answer (status and the start of its body) or the error. Filters and the page in
// the URL; the log follows pending deliveries' retries while it is open.
import {
  Box,
  Collapse,
  IconButton,
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
  Tooltip,
  Typography,
} from "@mui/material";
import KeyboardArrowDown from "@mui/icons-material/KeyboardArrowDown";
import KeyboardArrowRight from "@mui/icons-material/KeyboardArrowRight";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { Time } from "../../components/Time";
import {
  ALERTS_KEY,
  AlertTabs,
  EVENT_LABELS,
  OUTCOME_LABELS,
  OutcomeChip,
  type Channel,
  type Delivery,
  type DeliveryStatus,
  type Paged,
} from "./common";

const PAGE_SIZES = [25, 50, 100];
// read by screen readers, not shown
const visuallyHidden = {
  position: "absolute",
  width: 1,
  height: 1,
  overflow: "hidden",
  clip: "rect(0 0 0 0)",
  whiteSpace: "nowrap",
} as const;
const STATUSES = Object.keys(OUTCOME_LABELS) as DeliveryStatus[];

/** What the receiver said last: "HTTP 200: {"ok":true}", or the error. */
export function answerOf(delivery: Pick<Delivery, "response_status" | "response_excerpt" | "last_error" | "status">): string {
  if (delivery.status !== "delivered" && delivery.last_error) return delivery.last_error;
  const status = delivery.response_status ? `HTTP ${delivery.response_status}` : "";
  if (status && delivery.response_excerpt) return `${status}: ${delivery.response_excerpt}`;
  return status || (delivery.status === "delivered" ? "Sent" : "—");
}

function Attempts({ delivery }: { delivery: Delivery }) {
  const log = delivery.attempt_log ?? [];
  return (
    <Box sx={{ py: 1.5, px: 1 }}>
      <Typography variant="subtitle2" component="h3" gutterBottom>
        Attempts
      </Typography>
      {log.length === 0 ? (
        <Typography variant="body2">
          {delivery.attempts
            ? `${delivery.attempts} attempt(s); no detail kept for them.`
            : delivery.last_error || "Not attempted yet."}
        </Typography>
      ) : (
        <Table size="small" aria-label={`Attempts of delivery ${delivery.id}`}>
          <TableHead>
            <TableRow>
              <TableCell scope="col">#</TableCell>
              <TableCell scope="col">At</TableCell>
              <TableCell scope="col">Outcome</TableCell>
              <TableCell scope="col">Response</TableCell>
              <TableCell scope="col">Detail</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {log.map((attempt) => (
              <TableRow key={attempt.number}>
                <TableCell>{attempt.number}</TableCell>
                <TableCell>
                  <Time value={attempt.at} />
                </TableCell>
                <TableCell>
                  <OutcomeChip status={attempt.outcome as DeliveryStatus} />
                </TableCell>
                <TableCell>{attempt.response_status ? `HTTP ${attempt.response_status}` : "—"}</TableCell>
                <TableCell sx={{ overflowWrap: "anywhere" }}>
                  <code>{attempt.detail || "—"}</code>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {delivery.status === "pending" && delivery.next_attempt_at ? (
        <Typography variant="body2" sx={{ mt: 1 }}>
          Next attempt: <Time value={delivery.next_attempt_at} />
        </Typography>
      ) : null}
      <Typography variant="subtitle2" component="h3" sx={{ mt: 1.5 }} gutterBottom>
        What was sent
      </Typography>
      <Box
        component="pre"
        tabIndex={0}
        aria-label="The notification's body"
        sx={{ m: 0, p: 1, bgcolor: "action.hover", borderRadius: 1, fontSize: 12, overflow: "auto", maxHeight: 240 }}
      >
        {JSON.stringify(delivery.payload, null, 2)}
      </Box>
    </Box>
  );
}

export default function DeliveriesPage() {
  const [params, setParams] = useSearchParams();
  const channel = params.get("channel") ?? "";
  const status = (STATUSES as string[]).includes(params.get("status") ?? "") ? (params.get("status") as DeliveryStatus) : "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get("page_size"))) ? Number(params.get("page_size")) : 25;
  const [open, setOpen] = useState<Set<string>>(new Set());

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
  const deliveries = useQuery({
    queryKey: [...ALERTS_KEY, "deliveries", channel, status, page, pageSize],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/notification-deliveries/", {
          params: {
            query: {
              channel: channel || undefined,
              status: status ? [status] : undefined,
              page,
              page_size: pageSize,
            },
          },
        }),
      ) as Promise<Paged<Delivery>>,
    placeholderData: keepPreviousData,
    retry: false,
    // retries of pending deliveries show up while the log is open
    refetchInterval: (query) => (query.state.data?.results.some((d) => d.status === "pending") ? 5000 : 30000),
  });
  const names = new Set((channels.data?.results ?? []).map((c) => c.name));
  if (channel) names.add(channel);
  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <Stack spacing={2}>
      <PageHeader title="Alerts" subtitle="Where alerts go (signed webhooks, email), which runs raise them, and every delivery." />
      <AlertTabs />
      <Stack direction={{ xs: "column", sm: "row" }} spacing={2}>
        <TextField
          select
          size="small"
          label="Channel"
          value={channel}
          onChange={(event) => change({ channel: event.target.value || null, page: null })}
          sx={{ minWidth: 220 }}
          slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
        >
          <MenuItem value="">Any channel</MenuItem>
          {[...names].sort().map((name) => (
            <MenuItem key={name} value={name}>
              {name}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          select
          size="small"
          label="Outcome"
          value={status}
          onChange={(event) => change({ status: event.target.value || null, page: null })}
          sx={{ minWidth: 200 }}
          slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
        >
          <MenuItem value="">Any outcome</MenuItem>
          {STATUSES.map((value) => (
            <MenuItem key={value} value={value}>
              {OUTCOME_LABELS[value]}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {deliveries.error ? <ErrorAlert error={deliveries.error} /> : null}
      {deliveries.isPending ? (
        <PageLoading label="Loading the delivery log" />
      ) : deliveries.data && deliveries.data.count === 0 ? (
        <Paper variant="outlined" sx={{ p: 3 }}>
          <Typography>
            {channel || status
              ? "No delivery matches these filters."
              : "Nothing delivered yet. Deliveries appear here when a rule's job or schedule fails, recovers or misses a due time, or when a channel is sent a test notice."}
          </Typography>
        </Paper>
      ) : deliveries.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Deliveries">
              <TableHead>
                <TableRow>
                  <TableCell scope="col">
                    <Box component="span" sx={visuallyHidden}>
                      Details
                    </Box>
                  </TableCell>
                  <TableCell scope="col">Created</TableCell>
                  <TableCell scope="col">Channel</TableCell>
                  <TableCell scope="col">Event</TableCell>
                  <TableCell scope="col">About</TableCell>
                  <TableCell scope="col">Outcome</TableCell>
                  <TableCell scope="col" align="right">
                    Attempts
                  </TableCell>
                  <TableCell scope="col">Last answer</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {deliveries.data.results.map((delivery) => {
                  const expanded = open.has(delivery.id);
                  const payload = (delivery.payload ?? {}) as Record<string, unknown>;
                  const about = String(payload.schedule_name || payload.job_name || payload.channel_name || delivery.subject);
                  return (
                    <Fragment key={delivery.id}>
                      <TableRow hover>
                        <TableCell padding="checkbox">
                          <Tooltip title={expanded ? "Hide the attempts" : "Show the attempts"}>
                            <IconButton
                              size="small"
                              aria-expanded={expanded}
                              aria-label={`Attempts of the ${EVENT_LABELS[delivery.event] ?? delivery.event} notice to ${delivery.channel_name}`}
                              onClick={() => toggle(delivery.id)}
                            >
                              {expanded ? <KeyboardArrowDown /> : <KeyboardArrowRight />}
                            </IconButton>
                          </Tooltip>
                        </TableCell>
                        <TableCell>
                          <Time value={delivery.created_at} />
                        </TableCell>
                        <TableCell>{delivery.channel_name}</TableCell>
                        <TableCell>{EVENT_LABELS[delivery.event] ?? delivery.event}</TableCell>
                        <TableCell sx={{ overflowWrap: "anywhere" }}>{about}</TableCell>
                        <TableCell>
                          <OutcomeChip status={delivery.status} />
                        </TableCell>
                        <TableCell align="right">{delivery.attempts}</TableCell>
                        <TableCell sx={{ overflowWrap: "anywhere", maxWidth: 360 }}>{answerOf(delivery)}</TableCell>
                      </TableRow>
                      {expanded ? (
                        <TableRow>
                          <TableCell colSpan={8} sx={{ py: 0 }}>
                            <Collapse in appear>
                              <Attempts delivery={delivery} />
                            </Collapse>
                          </TableCell>
                        </TableRow>
                      ) : null}
                    </Fragment>
                  );
                })}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={deliveries.data.count}
            page={page - 1}
            rowsPerPage={pageSize}
            rowsPerPageOptions={PAGE_SIZES}
            onPageChange={(_, next) => change({ page: next ? String(next + 1) : null })}
            onRowsPerPageChange={(event) => change({ page_size: event.target.value, page: null })}
          />
        </Paper>
      ) : null}
    </Stack>
  );
}
