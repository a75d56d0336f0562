// Following a batch of health checks (POST /targets/check/ then GET /targets/checks/{batch}/):
// progress while the workers check, each target's verdict as it arrives.
import {
  Alert,
  Box,
  Chip,
  IconButton,
  LinearProgress,
  Link,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Tooltip,
  Typography,
} from "@mui/material";
import CloseIcon from "@mui/icons-material/Close";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { Link as RouterLink } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { healthLook, CheckState } from "./health";
import { TARGETS_KEY, type HealthCheck, type Paged } from "./api";

const POLL_MS = 1500;
const BATCH_PAGE = 500;

export function HealthCheckBatch({ batchId, total, onClose }: { batchId: string; total: number; onClose: () => void }) {
  const client = useQueryClient();
  const query = useQuery({
    queryKey: ["targets", "checks", batchId],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/targets/checks/{batch_id}/", {
          params: { path: { batch_id: batchId }, query: { page_size: BATCH_PAGE } },
        }),
      ) as unknown as Promise<Paged<HealthCheck>>,
    refetchInterval: (q) => {
      const data = q.state.data as Paged<HealthCheck> | undefined;
      if (q.state.error) return false;
      return data && data.results.every((c) => c.state === "finished") && data.count <= BATCH_PAGE ? false : POLL_MS;
    },
  });
  const checks = query.data?.results ?? [];
  const finished = checks.filter((c) => c.state === "finished").length;
  const done = query.data !== undefined && finished === checks.length;

  useEffect(() => {
    // the list shows each target's health: refresh it once the verdicts are in
    if (done) void client.invalidateQueries({ queryKey: TARGETS_KEY, predicate: (q) => q.queryKey[1] !== "checks" });
  }, [done, client]);

  const counts = new Map<string, number>();
  for (const check of checks) if (check.state === "finished") counts.set(check.status || "error", (counts.get(check.status || "error") ?? 0) + 1);
  const problems = checks.filter((c) => c.state === "finished" && c.status !== "healthy");

  return (
    <Paper variant="outlined" sx={{ p: 2, mb: 2 }} component="section" aria-labelledby={`batch-${batchId}`}>
      <Stack direction="row" alignItems="center" spacing={1}>
        <Typography id={`batch-${batchId}`} variant="h6" component="h2" sx={{ flexGrow: 1 }}>
          Health check of {total.toLocaleString()} {total === 1 ? "target" : "targets"}
        </Typography>
        <Tooltip title="Close">
          <IconButton onClick={onClose} aria-label="Close the health check results">
            <CloseIcon />
          </IconButton>
        </Tooltip>
      </Stack>
      <ErrorAlert error={query.error} />
      <Box sx={{ my: 1 }}>
        <LinearProgress
          variant={query.data ? "determinate" : "indeterminate"}
          value={checks.length ? (finished / checks.length) * 100 : 0}
          aria-label="Health check progress"
        />
        <Typography variant="body2" sx={{ mt: 0.5 }} aria-live="polite">
          {done ? "Done: " : "Checking: "}
          {finished.toLocaleString()} of {checks.length.toLocaleString()} finished
          {query.data && query.data.count > BATCH_PAGE ? ` (the first ${BATCH_PAGE} of ${query.data.count} shown)` : ""}
        </Typography>
      </Box>
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap sx={{ mb: 1 }}>
        {[...counts.entries()].map(([status, count]) => {
          const look = healthLook(status);
          return <Chip key={status} size="small" icon={<look.Icon fontSize="small" color={look.tone} aria-hidden />} label={`${look.label}: ${count}`} variant="outlined" />;
        })}
      </Stack>
      {done && problems.length === 0 && checks.length > 0 ? <Alert severity="success">Every checked target is healthy.</Alert> : null}
      {checks.length > 0 && !(done && problems.length === 0) ? (
        <Box sx={{ maxHeight: 320, overflow: "auto" }}>
          <Table size="small" aria-label="Health check results" stickyHeader>
            <TableHead>
              <TableRow>
                <TableCell>Target</TableCell>
                <TableCell>Result</TableCell>
                <TableCell align="right">Latency</TableCell>
                <TableCell>Message</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {/* problems first: they are what the operator acts on */}
              {[...checks]
                .sort((a, b) => rank(a) - rank(b) || a.target_name.localeCompare(b.target_name))
                .map((check) => (
                  <TableRow key={check.id}>
                    <TableCell>
                      <Link component={RouterLink} to={`/targets/${check.target_id}`}>
                        {check.target_name}
                      </Link>
                    </TableCell>
                    <TableCell>
                      <CheckState state={check.state} status={check.status} />
                    </TableCell>
                    <TableCell align="right">{check.latency_ms != null ? `${check.latency_ms} ms` : "—"}</TableCell>
                    <TableCell sx={{ maxWidth: 420, wordBreak: "break-word" }}>{check.message || "—"}</TableCell>
                  </TableRow>
                ))}
            </TableBody>
          </Table>
        </Box>
      ) : null}
    </Paper>
  );
}

function rank(check: HealthCheck): number {
  if (check.state !== "finished") return 1;
  return check.status === "healthy" ? 2 : 0;
}
