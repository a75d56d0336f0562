// Migration progress (admins; auditors read): the legacy bridge's route table with each prefix's
// mode and traffic over the last day and week, how much of it still reaches the old system,
// flipping a prefix (confirmed; the server audits it), the adapters that can answer each prefix,
// and the legacy import's runs with their reports.
import {
  Alert,
  Box,
  Button,
  Chip,
  Collapse,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  FormControl,
  FormControlLabel,
  FormLabel,
  IconButton,
  LinearProgress,
  MenuItem,
  Paper,
  Radio,
  RadioGroup,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import KeyboardArrowDown from "@mui/icons-material/KeyboardArrowDown";
import KeyboardArrowUp from "@mui/icons-material/KeyboardArrowUp";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { Time } from "../../components/Time";
import {
  adaptersFor,
  adaptersToName,
  describeFlip,
  flipBody,
  modeLabel,
  MODES,
  trafficShare,
  type Adapter,
  type Flip,
  type ImportRun,
  type ImportRunDetail,
  type Mode,
  type Route,
} from "./migration";

const ROUTES_KEY = ["bridge", "routes"] as const;
// read by screen readers, not shown (a header for a column of buttons)
const HIDDEN = { position: "absolute", width: 1, height: 1, overflow: "hidden", clip: "rect(0 0 0 0)", whiteSpace: "nowrap" } as const;

function ModeChip({ mode }: { mode: string | null | undefined }) {
  const colour = mode === "proxy" ? "warning" : mode === "migrated" ? "success" : "default";
  return <Chip size="small" variant="outlined" color={colour} label={modeLabel(mode)} />;
}

function ShareSummary({ routes }: { routes: Route[] }) {
  const day = trafficShare(routes, "last_day");
  const week = trafficShare(routes, "last_week");
  const counts = MODES.map((mode) => `${routes.filter((route) => route.mode === mode.value).length} ${mode.label.toLowerCase()}`).join(", ");
  return (
    <Paper variant="outlined" sx={{ p: 2, mb: 2 }} component="section" aria-labelledby="share-title">
      <Typography id="share-title" variant="h6" component="h2" sx={{ fontSize: "1.05rem", mb: 1 }}>
        Still on the old system
      </Typography>
      <Stack direction={{ xs: "column", md: "row" }} spacing={4}>
        {[
          { label: "last 24 hours", share: day },
          { label: "last 7 days", share: week },
        ].map(({ label, share }) => (
          <Box key={label} sx={{ minWidth: 240 }}>
            <Typography sx={{ fontSize: "1.6rem", fontWeight: 600 }} data-testid={`proxied-${label === "last 24 hours" ? "day" : "week"}`}>
              {share.total ? `${share.proxiedPercent}%` : "—"}
            </Typography>
            <Typography variant="body2" color="text.secondary">
              {share.total
                ? `of ${share.total.toLocaleString()} legacy requests in the ${label} were proxied to the legacy backend (${share.byMode.migrated.toLocaleString()} answered by the new system, ${share.byMode.retired.toLocaleString()} retired)`
                : `No legacy requests in the ${label}.`}
            </Typography>
            {share.total ? (
              <LinearProgress
                variant="determinate"
                value={share.proxiedPercent}
                color="warning"
                sx={{ mt: 1, height: 8, borderRadius: 4 }}
                aria-label={`Share of legacy requests proxied in the ${label}: ${share.proxiedPercent}%`}
              />
            ) : null}
          </Box>
        ))}
        <Box>
          <Typography variant="body2">Prefixes: {counts}.</Typography>
        </Box>
      </Stack>
    </Paper>
  );
}

function FlipDialog({ route, adapters, onClose }: { route: Route; adapters: Adapter[]; onClose: () => void }) {
  const client = useQueryClient();
  const initial: Mode = route.mode === "proxy" ? "migrated" : "proxy";
  const nameable = adaptersToName(route.prefix, adapters);
  const [flip, setFlip] = useState<Flip>({ mode: initial, adapter: nameable.find((a) => a.root === route.prefix)?.name ?? "", newUrl: route.new_url, message: route.message });
  const [confirming, setConfirming] = useState(false);
  const save = useMutation({
    mutationFn: () => {
      const body = flipBody(route, flip);
      return route.id
        ? unwrap(api.PATCH("/api/v1/bridge/routes/{id}/", { params: { path: { id: route.id } }, body }))
        : unwrap(api.POST("/api/v1/bridge/routes/", { body }));
    },
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ROUTES_KEY });
      onClose();
    },
  });
  const unchanged = flip.mode === route.mode && (flip.mode !== "migrated" || (flip.adapter === route.adapter && flip.newUrl === route.new_url));
  const incomplete = flip.mode === "migrated" && !flip.adapter && !flip.newUrl.trim();
  return (
    <Dialog open onClose={onClose} aria-labelledby="flip-title" fullWidth maxWidth="sm">
      <DialogTitle id="flip-title">Change the mode of {route.prefix}</DialogTitle>
      <DialogContent>
        {!confirming ? (
          <Stack spacing={2} sx={{ mt: 1 }}>
            <FormControl>
              <FormLabel id="flip-mode">New mode</FormLabel>
              <RadioGroup aria-labelledby="flip-mode" value={flip.mode} onChange={(event) => setFlip({ ...flip, mode: event.target.value as Mode })}>
                {MODES.map((mode) => (
                  <FormControlLabel key={mode.value} value={mode.value} control={<Radio />} label={`${mode.label}: ${mode.meaning}${mode.value === route.mode ? " (now)" : ""}`} />
                ))}
              </RadioGroup>
            </FormControl>
            {flip.mode === "migrated" ? (
              <>
                <TextField
                  select
                  label="Adapter"
                  value={flip.adapter}
                  onChange={(event) => setFlip({ ...flip, adapter: event.target.value })}
                  helperText={nameable.length ? "Answers in the legacy shape from the new system" : "No adapter serves exactly this prefix: give the new endpoint"}
                >
                  <MenuItem value="">None (point callers to the new endpoint)</MenuItem>
                  {nameable.map((adapter) => (
                    <MenuItem key={adapter.name} value={adapter.name}>
                      {adapter.name}
                    </MenuItem>
                  ))}
                </TextField>
                {!flip.adapter ? (
                  <TextField label="New endpoint" value={flip.newUrl} onChange={(event) => setFlip({ ...flip, newUrl: event.target.value })} helperText="A path starting with / or an http(s) URL" />
                ) : null}
              </>
            ) : null}
            {flip.mode === "retired" ? (
              <TextField label="Message to callers" value={flip.message} onChange={(event) => setFlip({ ...flip, message: event.target.value })} />
            ) : null}
          </Stack>
        ) : (
          <Box role="region" aria-label="What changes">
            {describeFlip(route, flip).map((line) => (
              <Typography key={line} sx={{ mb: 1 }}>
                {line}
              </Typography>
            ))}
          </Box>
        )}
        <ErrorAlert error={save.error} />
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        {!confirming ? (
          <Button variant="contained" disabled={unchanged || incomplete} onClick={() => setConfirming(true)}>
            Review
          </Button>
        ) : (
          <>
            <Button onClick={() => setConfirming(false)}>Back</Button>
            <Button variant="contained" color="warning" disabled={save.isPending} onClick={() => save.mutate()}>
              {save.isPending ? "Flipping…" : `Flip to ${modeLabel(flip.mode).toLowerCase()}`}
            </Button>
          </>
        )}
      </DialogActions>
    </Dialog>
  );
}

function RoutesTable({ routes, adapters }: { routes: Route[]; adapters: Adapter[] }) {
  const [flipping, setFlipping] = useState<Route | null>(null);
  if (routes.length === 0) {
    return <Alert severity="info">The route table is empty: every legacy request is proxied by the settings' defaults.</Alert>;
  }
  const errors = (route: Route, period: "last_day" | "last_week") => route[period].by_status_class["5xx"] ?? 0;
  return (
    <>
      <TableContainer component={Paper} variant="outlined">
        <Table size="small" aria-label="Route table">
          <TableHead>
            <TableRow>
              <TableCell>Prefix</TableCell>
              <TableCell>Mode</TableCell>
              <TableCell align="right">Requests, 24 h</TableCell>
              <TableCell align="right">Requests, 7 days</TableCell>
              <TableCell>Last seen</TableCell>
              <TableCell>Adapters</TableCell>
              <TableCell>
                <Box component="span" sx={HIDDEN}>
                  Actions
                </Box>
              </TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {routes.map((route) => {
              const available = adaptersFor(route.prefix, adapters);
              return (
                <TableRow key={route.prefix} data-prefix={route.prefix}>
                  <TableCell>
                    <code>{route.prefix}</code>
                    <Typography variant="caption" color="text.secondary" component="div">
                      {route.source === "settings" ? "default from the settings" : route.source === "traffic" ? "no rule: traffic only" : route.adapter ? `adapter ${route.adapter}` : route.new_url ? `→ ${route.new_url}` : "route"}
                    </Typography>
                  </TableCell>
                  <TableCell>
                    <ModeChip mode={route.mode} />
                  </TableCell>
                  <TableCell align="right">
                    {route.last_day.total.toLocaleString()}
                    {errors(route, "last_day") ? (
                      <Typography variant="caption" color="error" component="div">
                        {errors(route, "last_day")} server errors
                      </Typography>
                    ) : null}
                  </TableCell>
                  <TableCell align="right">
                    {route.last_week.total.toLocaleString()}
                    {errors(route, "last_week") ? (
                      <Typography variant="caption" color="error" component="div">
                        {errors(route, "last_week")} server errors
                      </Typography>
                    ) : null}
                  </TableCell>
                  <TableCell>
                    <Time value={route.last_seen} />
                  </TableCell>
                  <TableCell>
                    {available.length ? (
                      <Stack direction="row" spacing={0.5} flexWrap="wrap" useFlexGap>
                        {available.map((adapter) => (
                          <Chip key={adapter.name} size="small" label={adapter.name} title={adapter.description} />
                        ))}
                      </Stack>
                    ) : (
                      <Typography variant="body2" color="text.secondary">
                        none
                      </Typography>
                    )}
                  </TableCell>
                  <TableCell align="right">
                    <GatedButton needs="bridgeRoutes" size="small" variant="outlined" onClick={() => setFlipping(route)} aria-label={`Change the mode of ${route.prefix}`}>
                      Change mode
                    </GatedButton>
                  </TableCell>
                </TableRow>
              );
            })}
          </TableBody>
        </Table>
      </TableContainer>
      {flipping ? <FlipDialog route={flipping} adapters={adapters} onClose={() => setFlipping(null)} /> : null}
    </>
  );
}

function ImportReport({ id }: { id: string }) {
  const detail = useQuery({
    queryKey: ["bridge", "import-runs", id],
    queryFn: () => unwrap(api.GET("/api/v1/bridge/import-runs/{id}/", { params: { path: { id } } })) as Promise<ImportRunDetail>,
  });
  if (detail.error) return <ErrorAlert error={detail.error} />;
  if (!detail.data) return <PageLoading label="Loading the report" />;
  const tables = Object.values((detail.data.report.tables ?? {}) as Record<string, Record<string, unknown>>);
  if (tables.length === 0) return <Typography variant="body2">This run has no report yet.</Typography>;
  return (
    <Table size="small" aria-label="Report per table">
      <TableHead>
        <TableRow>
          <TableCell>Table</TableCell>
          <TableCell align="right">Read</TableCell>
          <TableCell align="right">Imported</TableCell>
          <TableCell align="right">Already present</TableCell>
          <TableCell align="right">Skipped</TableCell>
          <TableCell align="right">Failed</TableCell>
          <TableCell>Failures and notes</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {tables.map((table) => {
          const failures = (table.failures as { id: string; reason: string }[] | undefined) ?? [];
          const notes = (table.notes as string[] | undefined) ?? [];
          return (
            <TableRow key={String(table.table)}>
              <TableCell>{String(table.table)}</TableCell>
              {["read", "imported", "already_present", "skipped", "failed"].map((key) => (
                <TableCell key={key} align="right">
                  {Number(table[key] ?? 0).toLocaleString()}
                </TableCell>
              ))}
              <TableCell>
                {failures.slice(0, 5).map((failure) => (
                  <Typography key={failure.id} variant="caption" component="div" color="error">
                    #{failure.id}: {failure.reason}
                  </Typography>
                ))}
                {failures.length > 5 ? <Typography variant="caption">and {failures.length - 5} more</Typography> : null}
                {notes.map((note) => (
                  <Typography key={note} variant="caption" component="div">
                    {note}
                  </Typography>
                ))}
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}

function ImportRuns() {
  const [open, setOpen] = useState<string | null>(null);
  const runs = useQuery({
    queryKey: ["bridge", "import-runs"],
    queryFn: () => unwrap(api.GET("/api/v1/bridge/import-runs/", { params: { query: { page_size: 20 } } })),
  });
  if (runs.error) return <ErrorAlert error={runs.error} />;
  if (!runs.data) return <PageLoading label="Loading the import runs" />;
  const list = runs.data.results as ImportRun[];
  if (list.length === 0) {
    return <Alert severity="info">No import has run yet. Import the legacy data with manage.py import_legacy (docs/migration.md); its runs and reports appear here.</Alert>;
  }
  return (
    <TableContainer component={Paper} variant="outlined">
      <Table size="small" aria-label="Import runs">
        <TableHead>
          <TableRow>
            <TableCell>
              <Box component="span" sx={HIDDEN}>
                Report
              </Box>
            </TableCell>
            <TableCell>Started</TableCell>
            <TableCell>Outcome</TableCell>
            <TableCell>Tables</TableCell>
            <TableCell align="right">Imported</TableCell>
            <TableCell align="right">Skipped</TableCell>
            <TableCell align="right">Failed</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {list.map((run) => (
            <Fragment key={run.id}>
              <TableRow>
                <TableCell padding="checkbox">
                  <IconButton size="small" aria-expanded={open === run.id} aria-label={`Report of the import started ${new Date(run.started_at).toLocaleString()}`} onClick={() => setOpen(open === run.id ? null : run.id)}>
                    {open === run.id ? <KeyboardArrowUp /> : <KeyboardArrowDown />}
                  </IconButton>
                </TableCell>
                <TableCell>
                  <Time value={run.started_at} />
                </TableCell>
                <TableCell>
                  {run.status === "running" ? "Running" : run.status === "failed" ? `Stopped: ${run.error}` : run.ok ? "Finished, all verified" : "Finished with failures"}
                </TableCell>
                <TableCell>{run.only.length ? run.only.join(", ") : "all"}</TableCell>
                <TableCell align="right">{(run.totals.imported ?? 0).toLocaleString()}</TableCell>
                <TableCell align="right">{(run.totals.skipped ?? 0).toLocaleString()}</TableCell>
                <TableCell align="right">{(run.totals.failed ?? 0).toLocaleString()}</TableCell>
              </TableRow>
              <TableRow>
                <TableCell colSpan={7} sx={{ py: 0, borderBottom: open === run.id ? undefined : "none" }}>
                  <Collapse in={open === run.id} unmountOnExit>
                    <Box sx={{ py: 1 }}>
                      <ImportReport id={run.id} />
                    </Box>
                  </Collapse>
                </TableCell>
              </TableRow>
            </Fragment>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

export default function MigrationPage() {
  const routes = useQuery({ queryKey: ROUTES_KEY, queryFn: () => unwrap(api.GET("/api/v1/bridge/routes/")), refetchInterval: 30_000 });
  const adapters = useQuery({ queryKey: ["bridge", "adapters"], queryFn: () => unwrap(api.GET("/api/v1/bridge/adapters/")) });
  return (
    <Box>
      <PageHeader title="Migration progress" subtitle="How much of the legacy system is still in use: the bridge's routes, their traffic, and the data imports." />
      {routes.error ? (
        <ErrorAlert error={routes.error} />
      ) : !routes.data ? (
        <PageLoading label="Loading the route table" />
      ) : (
        <>
          <ShareSummary routes={routes.data} />
          <Typography variant="h6" component="h2" sx={{ fontSize: "1.05rem", mb: 1 }}>
            Routes
          </Typography>
          <RoutesTable routes={routes.data} adapters={adapters.data ?? []} />
          <Typography variant="h6" component="h2" sx={{ fontSize: "1.05rem", mt: 3, mb: 1 }}>
            Data imports
          </Typography>
          <ImportRuns />
        </>
      )}
    </Box>
  );
}
