// One target: its fields, tags, labels and groups, connection methods, host keys (approve or
// reject), health now and in history, and the runs that touched it.
import {
  Alert,
  AlertTitle,
  Box,
  Button,
  Chip,
  CircularProgress,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Grid,
  Link,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TablePagination,
  TableRow,
  Typography,
} from "@mui/material";
import EditIcon from "@mui/icons-material/Edit";
import MonitorHeartIcon from "@mui/icons-material/MonitorHeart";
import RadarIcon from "@mui/icons-material/Radar";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link as RouterLink, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { addressOf, TARGETS_KEY, type HealthCheck, type HostKey, type Paged, type TargetRow } from "./api";
import { CheckState, HealthStatus, HostKeyState } from "./health";

const HISTORY_PAGE = 10;
const RUNS_PAGE = 10;

function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "—";
}

function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const id = `section-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return (
    <Paper variant="outlined" sx={{ p: 2, mb: 2 }} component="section" aria-labelledby={id}>
      <Stack direction="row" alignItems="center" spacing={1} sx={{ mb: 1 }}>
        <Typography id={id} variant="h6" component="h2" sx={{ flexGrow: 1 }}>
          {title}
        </Typography>
        {actions}
      </Stack>
      {children}
    </Paper>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Box>
      <Typography variant="caption" color="text.secondary" component="div">
        {label}
      </Typography>
      <Typography variant="body2" component="div">
        {children || "—"}
      </Typography>
    </Box>
  );
}

export default function TargetDetailPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const target = useQuery({
    queryKey: [...TARGETS_KEY, "detail", id],
    queryFn: () => unwrap(api.GET("/api/v1/targets/{id}/", { params: { path: { id } } })) as Promise<TargetRow>,
  });
  const [lastCheck, setLastCheck] = useState<HealthCheck | null>(null);
  const checkNow = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/targets/{id}/check/", { params: { path: { id } } })) as Promise<HealthCheck>,
    onMutate: () => setLastCheck(null),
    onSuccess: (result) => {
      setLastCheck(result);
      void client.invalidateQueries({ queryKey: TARGETS_KEY });
    },
  });

  if (target.isPending) return <PageLoading label="Loading the target" />;
  if (target.isError || !target.data)
    return (
      <Box>
        <PageHeader title="Target" />
        <ErrorAlert error={target.error} />
        <Button component={RouterLink} to="/targets" sx={{ mt: 2 }}>
          Back to the targets
        </Button>
      </Box>
    );
  const t = target.data;
  const labels = Object.entries(t.labels ?? {});

  return (
    <Box>
      <Typography variant="body2" sx={{ mb: 1 }}>
        <Link component={RouterLink} to="/targets">
          Targets
        </Link>{" "}
        / {t.name}
      </Typography>
      <PageHeader
        title={t.name}
        subtitle={
          <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
            <HealthStatus status={t.health.status} message={t.health.message} />
            <span>{capitalized(t.environment)}</span>
            <span>{t.os_family === "windows" ? "Windows" : "Linux"}</span>
            <span>{capitalized(t.status)}</span>
            <span>{addressOf(t)}</span>
          </Stack>
        }
        actions={
          <>
            <GatedButton
              needs="healthCheck"
              variant="contained"
              startIcon={checkNow.isPending ? <CircularProgress size={16} color="inherit" aria-hidden /> : <MonitorHeartIcon />}
              disabled={checkNow.isPending}
              onClick={() => checkNow.mutate()}
            >
              {checkNow.isPending ? "Checking…" : "Check health now"}
            </GatedButton>
            <GatedButton needs="editTargets" variant="outlined" startIcon={<EditIcon />} onClick={() => navigate(`/targets/${t.id}/edit`)}>
              Edit
            </GatedButton>
          </>
        }
      />

      <Box aria-live="polite">
        {checkNow.isPending ? (
          <Alert severity="info" icon={<CircularProgress size={18} aria-hidden />} sx={{ mb: 2 }}>
            Checking {t.name}: connecting and running a command…
          </Alert>
        ) : null}
        <ErrorAlert error={checkNow.error} onClose={() => checkNow.reset()} />
        {lastCheck ? (
          <Alert severity={lastCheck.status === "healthy" ? "success" : "warning"} sx={{ mb: 2 }} onClose={() => setLastCheck(null)}>
            <AlertTitle>
              Health check: <HealthStatus status={lastCheck.status} />
            </AlertTitle>
            {lastCheck.message || "No message."}
            {lastCheck.latency_ms != null ? ` (${lastCheck.latency_ms} ms)` : ""}
          </Alert>
        ) : null}
      </Box>

      <Section title="Details">
        <Grid container spacing={2}>
          <Grid size={{ xs: 12 }}>
            <Field label="Description">{t.description}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Environment">{t.environment}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="OS family">{t.os_family}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Status">{t.status}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Host key policy">{t.host_key_policy === "strict" ? "Strict: only approved keys" : "Accept new, refuse changes"}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Region">{t.region}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Data center">{t.data_center}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Location">{t.location}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Last health check">
              {t.health.checked_at ? `${when(t.health.checked_at)}${t.health.latency_ms != null ? ` · ${t.health.latency_ms} ms` : ""}` : "never"}
            </Field>
          </Grid>
          {t.health.message ? (
            <Grid size={{ xs: 12 }}>
              <Field label="Last check says">{t.health.message}</Field>
            </Grid>
          ) : null}
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Created">{when(t.created_at)}</Field>
          </Grid>
          <Grid size={{ xs: 6, md: 3 }}>
            <Field label="Updated">{when(t.updated_at)}</Field>
          </Grid>
          <Grid size={{ xs: 12, md: 6 }}>
            <Field label="Id">
              <Box component="span" sx={{ fontFamily: "monospace" }}>
                {t.id}
              </Box>
            </Field>
          </Grid>
        </Grid>
      </Section>

      <Section title="Tags, labels and groups">
        <Stack spacing={1.5}>
          <Field label="Tags">
            {t.tags?.length ? (
              <Stack direction="row" spacing={0.5} flexWrap="wrap" useFlexGap>
                {t.tags.map((tag) => (
                  <Chip key={tag} size="small" label={tag} component={RouterLink} to={`/targets?selector=${encodeURIComponent(`tag:${tag}`)}`} clickable />
                ))}
              </Stack>
            ) : null}
          </Field>
          <Field label="Labels">
            {labels.length ? (
              <Stack direction="row" spacing={0.5} flexWrap="wrap" useFlexGap>
                {labels.map(([key, value]) => (
                  <Chip key={key} size="small" variant="outlined" label={value ? `${key}=${value}` : key} />
                ))}
              </Stack>
            ) : null}
          </Field>
          <GroupsOf targetId={t.id} />
        </Stack>
      </Section>

      <Section title="Connection methods">
        {t.connection_methods?.length ? (
          <Table size="small" aria-label="Connection methods">
            <TableHead>
              <TableRow>
                <TableCell>Protocol</TableCell>
                <TableCell>Host</TableCell>
                <TableCell>Port</TableCell>
                <TableCell>User</TableCell>
                <TableCell>Credential</TableCell>
                <TableCell>Priority</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {[...t.connection_methods]
                .sort((a, b) => Number(b.is_primary) - Number(a.is_primary) || (a.priority ?? 0) - (b.priority ?? 0))
                .map((method) => (
                  <TableRow key={method.id}>
                    <TableCell>
                      {method.protocol.toUpperCase()}
                      {method.protocol === "winrm" && method.winrm_scheme ? ` (${method.winrm_scheme})` : ""}
                    </TableCell>
                    <TableCell sx={{ fontFamily: "monospace" }}>{method.host}</TableCell>
                    <TableCell>{method.port ?? "default"}</TableCell>
                    <TableCell>{method.username || "—"}</TableCell>
                    <TableCell>{credentialName(method.credential)}</TableCell>
                    <TableCell>
                      {method.priority ?? 0}
                      {method.is_primary ? <Chip size="small" label="primary" sx={{ ml: 1 }} /> : null}
                    </TableCell>
                  </TableRow>
                ))}
            </TableBody>
          </Table>
        ) : (
          <Typography color="text.secondary">
            No connection method: jobs cannot reach this target. Add one with{" "}
            <Link component={RouterLink} to={`/targets/${t.id}/edit`}>
              Edit
            </Link>
            .
          </Typography>
        )}
      </Section>

      <HostKeys target={t} />
      <HealthHistory targetId={t.id} />
      <RunsOf targetId={t.id} />
    </Box>
  );
}

function capitalized(value: string | undefined): string {
  return value ? value[0].toUpperCase() + value.slice(1) : "";
}

function credentialName(credential: unknown): string {
  if (!credential) return "—";
  if (typeof credential === "string") return credential;
  const ref = credential as { name?: string; id?: string };
  return ref.name ?? ref.id ?? "—";
}

function GroupsOf({ targetId }: { targetId: string }) {
  const groups = useQuery({
    queryKey: ["groups", "all"],
    queryFn: () => unwrap(api.GET("/api/v1/groups/", { params: { query: { page_size: 500 } } })),
    staleTime: 30_000,
  });
  const member = (groups.data?.results ?? []).filter((group) => (group.members ?? []).includes(targetId));
  return (
    <Field label="Groups (static member of)">
      {groups.isError ? (
        <ErrorAlert error={groups.error} />
      ) : groups.isPending ? (
        <CircularProgress size={14} aria-label="Loading groups" />
      ) : member.length ? (
        <Stack direction="row" spacing={0.5} flexWrap="wrap" useFlexGap>
          {member.map((group) => (
            <Chip
              key={group.id}
              size="small"
              color="primary"
              variant="outlined"
              label={group.name}
              component={RouterLink}
              to={`/targets?selector=${encodeURIComponent(`group:"${group.name}"`)}`}
              clickable
            />
          ))}
        </Stack>
      ) : (
        "none (groups may still select it by their selector)"
      )}
    </Field>
  );
}

type KeyDecision = { key: HostKey; action: "approve" | "reject" };

function HostKeys({ target }: { target: TargetRow }) {
  const client = useQueryClient();
  const keysKey = [...TARGETS_KEY, "host-keys", target.id];
  const keys = useQuery({
    queryKey: keysKey,
    queryFn: () => unwrap(api.GET("/api/v1/targets/{target_pk}/host-keys/", { params: { path: { target_pk: target.id } } })),
  });
  const [decision, setDecision] = useState<KeyDecision | null>(null);
  const decide = useMutation({
    mutationFn: ({ key, action }: KeyDecision) =>
      action === "approve"
        ? unwrap(api.POST("/api/v1/targets/{target_pk}/host-keys/{id}/approve/", { params: { path: { target_pk: target.id, id: key.id } } }))
        : unwrap(api.POST("/api/v1/targets/{target_pk}/host-keys/{id}/reject/", { params: { path: { target_pk: target.id, id: key.id } } })),
    onSuccess: () => {
      setDecision(null);
      void client.invalidateQueries({ queryKey: keysKey });
    },
  });
  const scan = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/targets/{target_pk}/host-keys/scan/", { params: { path: { target_pk: target.id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: keysKey }),
  });
  const hasSsh = (target.connection_methods ?? []).some((m) => m.protocol === "ssh");
  const list: HostKey[] = keys.data ?? [];
  const trusted = list.filter((k) => k.state === "trusted");
  const replacedBy = (key: HostKey) => trusted.find((k) => k.method_id === key.method_id && k.algorithm === key.algorithm && k.id !== key.id);

  return (
    <Section
      title="Host keys"
      actions={
        hasSsh ? (
          <GatedButton needs="scanHostKeys" size="small" variant="outlined" startIcon={<RadarIcon />} disabled={scan.isPending} onClick={() => scan.mutate()}>
            {scan.isPending ? "Scanning…" : "Scan host key"}
          </GatedButton>
        ) : null
      }
    >
      <ErrorAlert error={scan.error} onClose={() => scan.reset()} />
      {scan.isSuccess ? (
        <Alert severity="info" sx={{ mb: 1 }} onClose={() => scan.reset()}>
          The host presented {scan.data.algorithm} {scan.data.fingerprint}: {scan.data.state === "trusted" ? "already trusted." : "recorded, waiting for approval."}
        </Alert>
      ) : null}
      <ErrorAlert error={keys.error} />
      {keys.isPending ? (
        <PageLoading label="Loading host keys" />
      ) : list.length === 0 ? (
        <Typography color="text.secondary">
          {hasSsh
            ? "No host key seen yet. Scan the host key (or run a health check) to record the key the host presents, then approve it."
            : "Host keys are for SSH: this target has no SSH connection method."}
        </Typography>
      ) : (
        <Table size="small" aria-label="Host keys">
          <TableHead>
            <TableRow>
              <TableCell>Address</TableCell>
              <TableCell>Algorithm</TableCell>
              <TableCell>Fingerprint (SHA256)</TableCell>
              <TableCell>State</TableCell>
              <TableCell>Seen</TableCell>
              <TableCell>Decided</TableCell>
              <TableCell align="right">Actions</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {list.map((key) => {
              const changed = key.state === "pending" && replacedBy(key);
              return (
                <TableRow key={key.id}>
                  <TableCell sx={{ fontFamily: "monospace" }}>{key.address}</TableCell>
                  <TableCell>{key.algorithm}</TableCell>
                  <TableCell sx={{ fontFamily: "monospace", wordBreak: "break-all" }}>{key.fingerprint}</TableCell>
                  <TableCell>
                    <HostKeyState state={key.state} />
                    {changed ? (
                      <Typography variant="caption" color="error" component="div">
                        Changed: differs from the trusted {key.algorithm} key
                      </Typography>
                    ) : null}
                  </TableCell>
                  <TableCell>
                    {when(key.last_seen_at ?? key.created_at)}
                    <Typography variant="caption" color="text.secondary" component="div">
                      {sourceLabel(key.source)}
                    </Typography>
                  </TableCell>
                  <TableCell>
                    {key.decided_at ? when(key.decided_at) : "—"}
                    {key.decided_by ? (
                      <Typography variant="caption" color="text.secondary" component="div">
                        by {String((key.decided_by as { name?: string }).name ?? "")}
                      </Typography>
                    ) : null}
                  </TableCell>
                  <TableCell align="right">
                    <Stack direction="row" spacing={1} justifyContent="flex-end">
                      {key.state !== "trusted" ? (
                        <GatedButton needs="trustKeys" size="small" variant="outlined" onClick={() => setDecision({ key, action: "approve" })}>
                          Approve
                        </GatedButton>
                      ) : null}
                      {key.state !== "rejected" ? (
                        <GatedButton needs="trustKeys" size="small" color="error" onClick={() => setDecision({ key, action: "reject" })}>
                          Reject
                        </GatedButton>
                      ) : null}
                    </Stack>
                  </TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      )}

      <Dialog
        open={decision !== null}
        onClose={() => {
          if (!decide.isPending) {
            setDecision(null);
            decide.reset();
          }
        }}
        aria-labelledby="host-key-decision-title"
      >
        {decision ? (
          <>
            <DialogTitle id="host-key-decision-title">
              {decision.action === "approve" ? "Trust this host key?" : "Reject this host key?"}
            </DialogTitle>
            <DialogContent>
              <DialogContentText component="div">
                <Box sx={{ fontFamily: "monospace", wordBreak: "break-all", mb: 1 }}>
                  {decision.key.address} {decision.key.algorithm}
                  <br />
                  {decision.key.fingerprint}
                </Box>
                {decision.action === "approve" ? (
                  <>
                    Compare the fingerprint with the one the host shows (<code>ssh-keygen -lf</code> on the host's key) before trusting it.
                    {replacedBy(decision.key) ? (
                      <Alert severity="warning" sx={{ mt: 1 }}>
                        The trusted {decision.key.algorithm} key {replacedBy(decision.key)?.fingerprint} will be rejected: connections presenting it will be
                        refused.
                      </Alert>
                    ) : null}
                  </>
                ) : (
                  "Connections presenting this key will be refused. The key stays on record."
                )}
              </DialogContentText>
              <Box sx={{ mt: 2 }}>
                <ErrorAlert error={decide.error} />
              </Box>
            </DialogContent>
            <DialogActions>
              <Button
                onClick={() => {
                  setDecision(null);
                  decide.reset();
                }}
                disabled={decide.isPending}
              >
                Cancel
              </Button>
              <Button
                variant="contained"
                color={decision.action === "approve" ? "primary" : "error"}
                onClick={() => decide.mutate(decision)}
                disabled={decide.isPending}
              >
                {decide.isPending ? "Saving…" : decision.action === "approve" ? "Trust the key" : "Reject the key"}
              </Button>
            </DialogActions>
          </>
        ) : null}
      </Dialog>
    </Section>
  );
}

function sourceLabel(source: string): string {
  return (
    {
      scan: "scanned on request",
      first_use: "trusted on first use",
      connection: "presented at a connection",
      manual: "entered by a user",
    }[source] ?? source
  );
}

function usePageParam(name: string): [number, (page: number) => void] {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get(name) ?? "1", 10) || 1);
  return [
    page,
    (next) =>
      setParams(
        (current) => {
          const copy = new URLSearchParams(current);
          if (next > 1) copy.set(name, String(next));
          else copy.delete(name);
          return copy;
        },
        { replace: true },
      ),
  ];
}

function HealthHistory({ targetId }: { targetId: string }) {
  const [page, setPage] = usePageParam("checks_page");
  const history = useQuery({
    queryKey: [...TARGETS_KEY, "health-checks", targetId, page],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/targets/{id}/health-checks/", {
          params: { path: { id: targetId }, query: { page, page_size: HISTORY_PAGE } },
        }),
      ) as unknown as Promise<Paged<HealthCheck>>,
    refetchInterval: (q) => ((q.state.data as Paged<HealthCheck> | undefined)?.results.some((c) => c.state !== "finished") ? 2000 : false),
  });
  return (
    <Section title="Health history">
      <ErrorAlert error={history.error} />
      {history.isPending ? (
        <PageLoading label="Loading the health history" />
      ) : !history.data?.results.length ? (
        history.isError ? null : <Typography color="text.secondary">Never checked. Run a health check to see whether jobs can reach it.</Typography>
      ) : (
        <>
          <Table size="small" aria-label="Health history">
            <TableHead>
              <TableRow>
                <TableCell>When</TableCell>
                <TableCell>Result</TableCell>
                <TableCell align="right">Latency</TableCell>
                <TableCell>Message</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {history.data.results.map((check) => (
                <TableRow key={check.id}>
                  <TableCell sx={{ whiteSpace: "nowrap" }}>{when(check.finished_at ?? check.started_at ?? check.created_at)}</TableCell>
                  <TableCell>
                    <CheckState state={check.state} status={check.status} />
                  </TableCell>
                  <TableCell align="right">{check.latency_ms != null ? `${check.latency_ms} ms` : "—"}</TableCell>
                  <TableCell sx={{ wordBreak: "break-word" }}>{check.message || "—"}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <TablePagination
            component="div"
            count={history.data.count}
            page={page - 1}
            rowsPerPage={HISTORY_PAGE}
            rowsPerPageOptions={[HISTORY_PAGE]}
            onPageChange={(_, next) => setPage(next + 1)}
          />
        </>
      )}
    </Section>
  );
}

function RunsOf({ targetId }: { targetId: string }) {
  const [page, setPage] = usePageParam("runs_page");
  const runs = useQuery({
    queryKey: ["runs", "list", { target: targetId, page }],
    queryFn: () => unwrap(api.GET("/api/v1/runs/", { params: { query: { target: targetId, page, page_size: RUNS_PAGE, ordering: "-created_at" } } })),
  });
  return (
    <Section title="Runs on this target">
      <ErrorAlert error={runs.error} />
      {runs.isPending ? (
        <PageLoading label="Loading runs" />
      ) : !runs.data?.results.length ? (
        runs.isError ? null : <Typography color="text.secondary">No run has touched this target yet.</Typography>
      ) : (
        <>
          <Table size="small" aria-label="Runs on this target">
            <TableHead>
              <TableRow>
                <TableCell>Run</TableCell>
                <TableCell>Job</TableCell>
                <TableCell>Status</TableCell>
                <TableCell>Trigger</TableCell>
                <TableCell>Created</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {runs.data.results.map((run) => (
                <TableRow key={run.id}>
                  <TableCell>
                    <Link component={RouterLink} to={`/runs/${run.id}`} sx={{ fontFamily: "monospace" }}>
                      {run.id.slice(0, 8)}
                    </Link>
                  </TableCell>
                  <TableCell>{run.job_name}</TableCell>
                  <TableCell>{run.status}</TableCell>
                  <TableCell>{run.trigger}</TableCell>
                  <TableCell sx={{ whiteSpace: "nowrap" }}>{when(run.created_at)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <TablePagination
            component="div"
            count={runs.data.count}
            page={page - 1}
            rowsPerPage={RUNS_PAGE}
            rowsPerPageOptions={[RUNS_PAGE]}
            onPageChange={(_, next) => setPage(next + 1)}
          />
        </>
      )}
    </Section>
  );
}
