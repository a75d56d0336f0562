// The compliance report for a period (GET /api/v1/audit/events/report/): who ran what on which
// targets with what outcome, and every change to credentials, users, roles and API tokens.
import {
  Alert,
  Box,
  Chip,
  LinearProgress,
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
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { AUDIT_REASON, canReadAudit } from "../../auth/roles";
import { useSession } from "../../auth/session";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { StatusChip } from "../../components/StatusChip";
import { Time } from "../../components/Time";
import { plural } from "../../lib/format";
import { AuditTabs } from "./AuditTabs";
import { diffRows } from "./diff";
import { PERIODS, fromLocalInput, reportRange, toLocalInput, type Period } from "./filters";
import type { Actor } from "./format";

interface ReportRun {
  run_id: string;
  at: string;
  job: string | null;
  job_version: number | null;
  trigger: string | null;
  by: Actor;
  source_ip: string | null;
  status: string;
  counts: Record<string, number>;
  targets: { target: string; status: string | null; exit_code: number | null }[];
}

interface AccessChange {
  at: string;
  action: string;
  object_type: string;
  object_id: string;
  object_name: string;
  outcome: string;
  by: Actor;
  source_ip: string | null;
  changes: unknown;
  sequence: number;
}

interface Report {
  since: string;
  until: string;
  runs: ReportRun[];
  access_changes: AccessChange[];
}

const NOT_OK = new Set(["failed", "unreachable", "timed_out", "lost", "canceled"]);

export default function ReportPage() {
  const { me } = useSession();
  const [params, setParams] = useSearchParams();
  const { period, since, until } = reportRange(params);
  const report = useQuery({
    queryKey: ["audit", "report", since, until],
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/audit/events/report/", { params: { query: { since, until } } }))) as unknown as Report,
    enabled: Boolean(since && until),
    placeholderData: keepPreviousData,
  });
  const choose = (value: Period | null) => {
    if (!value) return;
    if (value === "custom") {
      setParams({ period: "custom", since, until }, { replace: true });
    } else {
      setParams({ period: value }, { replace: true });
    }
  };
  const setCustom = (key: "since" | "until", value: string) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      next.set("period", "custom");
      if (value) next.set(key, value);
      else next.delete(key);
      return next;
    }, { replace: true });
  const data = report.data;
  return (
    <>
      <PageHeader title="Audit" subtitle="The compliance report: what ran where, and who changed who may do what." />
      <AuditTabs />
      {!canReadAudit(me) && !report.error ? (
        <Alert severity="warning" sx={{ mb: 2 }}>
          {AUDIT_REASON}
        </Alert>
      ) : null}
      <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap" alignItems="center" sx={{ mb: 2 }}>
        <ToggleButtonGroup size="small" exclusive value={period} onChange={(_, value: Period | null) => choose(value)} aria-label="Period">
          {PERIODS.map((item) => (
            <ToggleButton key={item.value} value={item.value}>
              {item.label}
            </ToggleButton>
          ))}
        </ToggleButtonGroup>
        {period === "custom" ? (
          <>
            <TextField size="small" type="datetime-local" label="From" value={toLocalInput(since)} onChange={(event) => setCustom("since", fromLocalInput(event.target.value))} slotProps={{ inputLabel: { shrink: true } }} />
            <TextField size="small" type="datetime-local" label="Until" value={toLocalInput(until)} onChange={(event) => setCustom("until", fromLocalInput(event.target.value))} slotProps={{ inputLabel: { shrink: true } }} />
          </>
        ) : null}
      </Stack>
      {period === "custom" && !(since && until) ? <Alert severity="info">Choose when the period starts and ends.</Alert> : null}
      {report.error ? <ErrorAlert error={report.error} /> : null}
      {report.isFetching ? <LinearProgress aria-label="Loading the report" /> : null}
      {data ? (
        <>
          <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
            From <Time value={data.since} /> until <Time value={data.until} />: {plural(data.runs.length, "run")},{" "}
            {plural(data.access_changes.length, "change")} to credentials, users, roles and tokens.
          </Typography>
          <Box component="section" aria-label="Runs" sx={{ mb: 3 }}>
            <Typography variant="h6" component="h2" sx={{ mb: 1 }}>
              Runs
            </Typography>
            <TableContainer component={Paper} variant="outlined">
              <Table size="small" aria-label="Runs in the period">
                <TableHead>
                  <TableRow>
                    <TableCell>Requested</TableCell>
                    <TableCell>Job</TableCell>
                    <TableCell>By</TableCell>
                    <TableCell>Trigger</TableCell>
                    <TableCell>Outcome</TableCell>
                    <TableCell>Targets</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {data.runs.map((run) => {
                    const bad = run.targets.filter((target) => target.status && NOT_OK.has(target.status));
                    return (
                      <TableRow key={run.run_id}>
                        <TableCell sx={{ whiteSpace: "nowrap" }}>
                          <Time value={run.at} />
                        </TableCell>
                        <TableCell>
                          <Link to={`/runs/${run.run_id}`}>{run.job ?? run.run_id}</Link>
                          {run.job_version ? <Typography variant="caption" component="div" color="text.secondary">version {run.job_version}</Typography> : null}
                        </TableCell>
                        <TableCell>{run.by.name || run.by.kind}</TableCell>
                        <TableCell>{run.trigger ?? "—"}</TableCell>
                        <TableCell>{run.status === "not finished in the range" ? run.status : <StatusChip state={run.status} />}</TableCell>
                        <TableCell>
                          {run.targets.length ? (
                            <>
                              {plural(run.targets.length, "target")}
                              {bad.length ? (
                                <Typography variant="caption" component="div" color="error">
                                  not ok: {bad.map((target) => target.target).join(", ")}
                                </Typography>
                              ) : null}
                            </>
                          ) : (
                            "—"
                          )}
                        </TableCell>
                      </TableRow>
                    );
                  })}
                  {data.runs.length === 0 ? (
                    <TableRow>
                      <TableCell colSpan={6}>
                        <Typography color="text.secondary">No run was requested in this period. Choose a longer one.</Typography>
                      </TableCell>
                    </TableRow>
                  ) : null}
                </TableBody>
              </Table>
            </TableContainer>
          </Box>
          <Box component="section" aria-label="Access changes">
            <Typography variant="h6" component="h2" sx={{ mb: 1 }}>
              Changes to credentials, users, roles and tokens
            </Typography>
            <TableContainer component={Paper} variant="outlined">
              <Table size="small" aria-label="Access changes in the period">
                <TableHead>
                  <TableRow>
                    <TableCell>When</TableCell>
                    <TableCell>Action</TableCell>
                    <TableCell>Object</TableCell>
                    <TableCell>By</TableCell>
                    <TableCell>Fields changed</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {data.access_changes.map((change) => {
                    const fields = [...new Set(diffRows(change.changes).map((row) => row.path.split(".")[0]).filter(Boolean))];
                    return (
                      <TableRow key={change.sequence}>
                        <TableCell sx={{ whiteSpace: "nowrap" }}>
                          <Time value={change.at} />
                        </TableCell>
                        <TableCell>
                          <Link to={`/audit?${new URLSearchParams({ action: change.action, object_type: change.object_type, object_id: change.object_id }).toString()}`}>
                            <code>{change.action}</code>
                          </Link>
                        </TableCell>
                        <TableCell>
                          {change.object_type}: {change.object_name || change.object_id}
                        </TableCell>
                        <TableCell>{change.by.name || change.by.kind}</TableCell>
                        <TableCell>
                          {fields.length ? (
                            <Stack direction="row" spacing={0.5} useFlexGap flexWrap="wrap">
                              {fields.map((field) => (
                                <Chip key={field} size="small" label={field} />
                              ))}
                            </Stack>
                          ) : (
                            "—"
                          )}
                        </TableCell>
                      </TableRow>
                    );
                  })}
                  {data.access_changes.length === 0 ? (
                    <TableRow>
                      <TableCell colSpan={5}>
                        <Typography color="text.secondary">Nobody changed a credential, user, role or token in this period.</Typography>
                      </TableCell>
                    </TableRow>
                  ) : null}
                </TableBody>
              </Table>
            </TableContainer>
          </Box>
        </>
      ) : null}
    </>
  );
}
