// The hash chain's verification (GET /api/v1/audit/verification/): when it last ran, whether
// the chain was intact, where it broke; admins may run it now (it runs on a worker: this card
// follows it until it finishes).
import { Alert, AlertTitle, Box, CircularProgress, Stack, Typography } from "@mui/material";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { memo } from "react";
import { Link } from "react-router";
import { api, unwrap, type components } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { Time } from "../../components/Time";

type Status = components["schemas"]["VerificationStatus"];
export const VERIFICATION_KEY = ["audit", "verification"] as const;

const TRIGGERS: Record<string, string> = {
  schedule: "the schedule",
  manual: "on request",
  command: "from the command line",
};

function every(seconds: number): string {
  if (seconds % 86400 === 0) return seconds === 86400 ? "every day" : `every ${seconds / 86400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? "every hour" : `every ${seconds / 3600} hours`;
  return `every ${Math.round(seconds / 60)} minutes`;
}

/** (memo: the audit page renders again on every page; this card has nothing to do with it) */
export const VerificationCard = memo(function VerificationCard() {
  const client = useQueryClient();
  const status = useQuery({
    queryKey: VERIFICATION_KEY,
    queryFn: () => unwrap(api.GET("/api/v1/audit/verification/")),
    refetchInterval: (query) => (query.state.data?.pending ? 2000 : 60_000),
  });
  const run = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/audit/verification/")),
    onSuccess: (data: Status) => client.setQueryData(VERIFICATION_KEY, data),
  });
  if (status.error) return <ErrorAlert error={status.error} />;
  if (!status.data) return null;
  const { last, pending, interval_seconds } = status.data;
  const action = (
    <GatedButton needs="verifyAudit" size="small" color="inherit" disabled={Boolean(pending) || run.isPending} onClick={() => run.mutate()}>
      Verify now
    </GatedButton>
  );
  const severity = !last ? "info" : last.state === "passed" ? "success" : "error";
  return (
    <Box sx={{ mb: 2 }}>
      <Alert severity={severity} action={action} role="region" aria-label="Chain verification">
        <AlertTitle>
          {!last
            ? "The chain has not been verified yet"
            : last.state === "passed"
              ? "Chain verified: intact"
              : "Chain verification FAILED"}
        </AlertTitle>
        {last ? (
          <Stack spacing={0.5}>
            <Typography variant="body2" component="div">
              Last run <Time value={last.finished_at} /> ({TRIGGERS[last.trigger] ?? last.trigger}
              {last.trigger === "manual" && last.requested_by ? `, by ${last.requested_by}` : ""}):{" "}
              {last.checked.toLocaleString()} records checked
              {last.first_sequence ? ` (positions ${last.first_sequence.toLocaleString()} to ${(last.last_sequence ?? 0).toLocaleString()})` : ""}.
            </Typography>
            {last.state === "failed" ? (
              <Typography variant="body2" component="div">
                Broken at position {last.broken_sequence?.toLocaleString() ?? "?"}: {last.problem}
                {last.record_id ? (
                  <>
                    {" "}
                    <Link to={`/audit/${last.record_id}`}>Open that record</Link>
                  </>
                ) : null}
              </Typography>
            ) : null}
          </Stack>
        ) : (
          <Typography variant="body2">
            The schedule verifies it {every(interval_seconds)}; an admin can run it now.
          </Typography>
        )}
        {pending ? (
          <Stack direction="row" spacing={1} alignItems="center" sx={{ mt: 0.5 }} role="status">
            <CircularProgress size={14} aria-hidden="true" />
            <Typography variant="body2">
              {pending.state === "running" ? "Verifying now" : "Verification queued"} (asked <Time value={pending.requested_at} />
              {pending.requested_by ? ` by ${pending.requested_by}` : ""}).
            </Typography>
          </Stack>
        ) : last ? (
          <Typography variant="caption" component="div" sx={{ mt: 0.5 }}>
            Verified {every(interval_seconds)} by the schedule.
          </Typography>
        ) : null}
      </Alert>
      {run.error ? <ErrorAlert error={run.error} onClose={() => run.reset()} /> : null}
    </Box>
  );
});
