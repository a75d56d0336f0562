// The targets list: server-paged and sorted, filtered by a selector (and a free-text search),
// every part of the view in the URL. Select rows, or everything the selector matches, and
// check their health.
import {
  Alert,
  Box,
  Button,
  Checkbox,
  Chip,
  InputAdornment,
  LinearProgress,
  Link,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TableSortLabel,
  TextField,
  Typography,
} from "@mui/material";
import SearchIcon from "@mui/icons-material/Search";
import AddIcon from "@mui/icons-material/Add";
import UploadFileIcon from "@mui/icons-material/UploadFile";
import MonitorHeartIcon from "@mui/icons-material/MonitorHeart";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { Link as RouterLink, useNavigate, useSearchParams } from "react-router";
import { api, ApiError, unwrap, type paths } from "../../api/client";

type HealthStatusValue = NonNullable<NonNullable<paths["/api/v1/targets/"]["get"]["parameters"]["query"]>["health_status"]>[number];
import { ErrorAlert } from "../../components/ErrorAlert";
import { GatedButton } from "../../components/Gated";
import { PageHeader } from "../../components/PageHeader";
import { PageLoading } from "../../components/PageLoading";
import { SELECTOR_DEBOUNCE_MS, SelectorBox } from "../../components/SelectorBox";
import { addressOf, TARGETS_KEY, type Paged, type TargetRow } from "./api";
import { HealthStatus, healthLook } from "./health";
import { HealthCheckBatch } from "./HealthCheckBatch";
import {
  changeListState,
  ordering,
  PAGE_SIZES,
  readListState,
  toggleSort,
  writeListState,
  type ListState,
  type SortField,
} from "./listState";

const ENV_LABELS: Record<string, string> = {
  production: "Production",
  staging: "Staging",
  development: "Development",
  testing: "Testing",
};

type Selection = { kind: "ids"; ids: Set<string> } | { kind: "matching" };

interface Batch {
  id: string;
  total: number;
}

export default function TargetsListPage() {
  const [params, setParams] = useSearchParams();
  const state = useMemo(() => readListState(params), [params]);
  const navigate = useNavigate();
  const setState = (next: ListState, replace = false) => setParams(writeListState(next), { replace });

  // what is typed goes to the URL once the typing stops (Enter applies it at once)
  const [selectorDraft, setSelectorDraft] = useState(state.selector);
  const [searchDraft, setSearchDraft] = useState(state.search);
  // what the typing last wrote to the URL: when the URL comes to say that, the boxes (which
  // may already hold newer text) are left alone
  const [written, setWritten] = useState({ selector: state.selector, search: state.search });
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const applyFilters = (selector: string, search: string, replace: boolean) => {
    window.clearTimeout(timer.current);
    const wanted = { selector: selector.trim(), search: search.trim() };
    setWritten(wanted);
    setParams(
      (current) => {
        const now = readListState(current);
        if (now.selector === wanted.selector && now.search === wanted.search) return current;
        return writeListState(changeListState(now, wanted));
      },
      { replace },
    );
  };
  const typed = (selector: string, search: string) => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => applyFilters(selector, search, true), SELECTOR_DEBOUNCE_MS);
  };
  // anything else that changes the URL (back/forward, "clear the filters", Enter): the boxes
  // follow it
  const [seen, setSeen] = useState({ selector: state.selector, search: state.search });
  if (seen.selector !== state.selector || seen.search !== state.search) {
    setSeen({ selector: state.selector, search: state.search });
    if (written.selector !== state.selector || written.search !== state.search) {
      setWritten({ selector: state.selector, search: state.search });
      setSelectorDraft(state.selector);
      setSearchDraft(state.search);
    }
  }

  const query = useQuery({
    queryKey: [...TARGETS_KEY, "list", writeListState(state).toString()],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/targets/", {
          params: {
            query: {
              selector: state.selector || undefined,
              search: state.search || undefined,
              health_status: state.health.length ? (state.health as HealthStatusValue[]) : undefined,
              host_key_pending: state.hostKeyPending || undefined,
              page: state.page,
              page_size: state.pageSize,
              ordering: ordering(state),
            },
          },
        }),
      ) as Promise<Paged<TargetRow>>,
    placeholderData: keepPreviousData,
    retry: false,
  });

  const [selection, setSelection] = useState<Selection>({ kind: "ids", ids: new Set() });
  const [batch, setBatch] = useState<Batch | null>(null);
  // a new filter is a new set of targets: what was selected no longer applies
  const filterKey = `${state.selector}\u0000${state.search}\u0000${state.health.join(",")}\u0000${state.hostKeyPending}`;
  const [selectionFilter, setSelectionFilter] = useState(filterKey);
  if (selectionFilter !== filterKey) {
    setSelectionFilter(filterKey);
    setSelection({ kind: "ids", ids: new Set() });
  }

  const check = useMutation({
    mutationFn: async () => {
      const body =
        selection.kind === "matching" ? { selector: state.selector || "all" } : { target_ids: [...selection.ids] };
      return (await unwrap(api.POST("/api/v1/targets/check/", { body }))) as unknown as { batch_id: string; targets: number };
    },
    onSuccess: (answer) => {
      setBatch({ id: answer.batch_id, total: answer.targets });
      setSelection({ kind: "ids", ids: new Set() });
    },
  });

  const rows = query.data?.results ?? [];
  const count = query.data?.count ?? 0;
  const selectorRefused = query.error instanceof ApiError && query.error.status === 400 && query.error.fieldErrors("selector").length > 0;
  const pageMissing = query.error instanceof ApiError && query.error.status === 404;
  const filtered = Boolean(state.selector || state.search || state.health.length || state.hostKeyPending);
  const selectedCount = selection.kind === "matching" ? count : selection.ids.size;
  const pageIds = rows.map((row) => row.id);
  const pageAllSelected = selection.kind === "matching" || (pageIds.length > 0 && pageIds.every((id) => selection.ids.has(id)));
  const pageSomeSelected = selection.kind === "ids" && pageIds.some((id) => selection.ids.has(id));

  const toggleRow = (id: string) => {
    const ids = new Set(selection.kind === "ids" ? selection.ids : pageIds);
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    setSelection({ kind: "ids", ids });
  };
  const togglePage = () => {
    if (pageAllSelected) {
      const ids = new Set(selection.kind === "ids" ? selection.ids : []);
      pageIds.forEach((id) => ids.delete(id));
      setSelection({ kind: "ids", ids });
    } else {
      const ids = new Set(selection.kind === "ids" ? selection.ids : []);
      pageIds.forEach((id) => ids.add(id));
      setSelection({ kind: "ids", ids });
    }
  };

  const sortHeader = (field: SortField, label: string) => (
    <TableSortLabel
      active={state.sort === field}
      direction={state.sort === field && state.descending ? "desc" : "asc"}
      onClick={() => setState(toggleSort(state, field))}
    >
      {label}
    </TableSortLabel>
  );

  return (
    <Box>
      <PageHeader
        title="Targets"
        subtitle={query.data ? `${count.toLocaleString()} ${filtered ? "matching" : "in all"}` : "The machines jobs run on"}
        actions={
          <>
            <GatedButton needs="importTargets" variant="outlined" startIcon={<UploadFileIcon />} onClick={() => navigate("/targets/import")}>
              Import
            </GatedButton>
            <GatedButton needs="editTargets" variant="contained" startIcon={<AddIcon />} onClick={() => navigate("/targets/new")}>
              New target
            </GatedButton>
          </>
        }
      />

      <Paper variant="outlined" sx={{ p: 2, mb: 2 }} component="section" aria-label="Filters">
        <Stack direction={{ xs: "column", md: "row" }} spacing={2} alignItems="flex-start">
          <Box sx={{ flex: 3, width: "100%" }}>
            <SelectorBox
              label="Selector"
              value={selectorDraft}
              onChange={(value) => {
                setSelectorDraft(value);
                typed(value, searchDraft);
              }}
              onSubmit={(value) => applyFilters(value, searchDraft, false)}
              showListLink={false}
            />
          </Box>
          <TextField
            label="Search"
            size="small"
            value={searchDraft}
            onChange={(event) => {
              setSearchDraft(event.target.value);
              typed(selectorDraft, event.target.value);
            }}
            onKeyDown={(event) => {
              if (event.key === "Enter") applyFilters(selectorDraft, searchDraft, false);
            }}
            helperText="Name, description, location, region, data center"
            sx={{ flex: 1, width: "100%" }}
            slotProps={{
              input: {
                startAdornment: (
                  <InputAdornment position="start">
                    <SearchIcon fontSize="small" aria-hidden />
                  </InputAdornment>
                ),
              },
            }}
          />
        </Stack>
      </Paper>

      {state.health.length || state.hostKeyPending ? (
        <Stack direction="row" spacing={1} sx={{ mb: 2 }} flexWrap="wrap" useFlexGap component="section" aria-label="Active filters">
          {state.health.map((health) => (
            <Chip
              key={health}
              label={`Health: ${healthLook(health).label}`}
              onDelete={() => setState(changeListState(state, { health: state.health.filter((item) => item !== health) }))}
            />
          ))}
          {state.hostKeyPending ? (
            <Chip label="Host key waiting for approval" onDelete={() => setState(changeListState(state, { hostKeyPending: false }))} />
          ) : null}
        </Stack>
      ) : null}

      {batch ? <HealthCheckBatch key={batch.id} batchId={batch.id} total={batch.total} onClose={() => setBatch(null)} /> : null}

      <Stack direction="row" spacing={2} alignItems="center" sx={{ mb: 1, minHeight: 40 }} flexWrap="wrap" useFlexGap>
        <Typography variant="body2" aria-live="polite">
          {selectedCount > 0
            ? `${selectedCount.toLocaleString()} selected${selection.kind === "matching" ? " (every target matching the filter)" : ""}`
            : "Select targets to check their health."}
        </Typography>
        {selection.kind === "ids" && pageAllSelected && count > rows.length && !state.search ? (
          <Button size="small" onClick={() => setSelection({ kind: "matching" })}>
            Select all {count.toLocaleString()} {state.selector ? "matching the selector" : "targets"}
          </Button>
        ) : null}
        {selectedCount > 0 ? (
          <Button size="small" onClick={() => setSelection({ kind: "ids", ids: new Set() })}>
            Clear selection
          </Button>
        ) : null}
        <Box sx={{ flexGrow: 1 }} />
        <GatedButton
          needs="healthCheck"
          variant="outlined"
          startIcon={<MonitorHeartIcon />}
          disabled={selectedCount === 0 || check.isPending}
          onClick={() => check.mutate()}
        >
          {check.isPending ? "Starting…" : "Check health"}
        </GatedButton>
      </Stack>
      <ErrorAlert error={check.error} onClose={() => check.reset()} />

      {selectorRefused ? (
        <Alert severity="info" sx={{ mb: 2 }}>
          The selector is not valid: fix it where it is marked above to see its targets.
        </Alert>
      ) : pageMissing ? (
        <Alert severity="info" sx={{ mb: 2 }} action={<Button onClick={() => setState(changeListState(state, { page: 1 }))}>First page</Button>}>
          There is no page {state.page} of this list.
        </Alert>
      ) : (
        <ErrorAlert error={query.error} />
      )}

      {query.isPending && !query.isError ? (
        <PageLoading label="Loading targets" />
      ) : query.data ? (
        rows.length === 0 ? (
          <Paper variant="outlined" sx={{ p: 4, textAlign: "center" }}>
            {filtered ? (
              <>
                <Typography variant="h6" component="h2">
                  No target matches these filters
                </Typography>
                <Typography color="text.secondary" sx={{ mb: 2 }}>
                  Change the selector or the search, or clear them to see every target.
                </Typography>
                <Button variant="outlined" onClick={() => setState({ ...state, selector: "", search: "", health: [], hostKeyPending: false, page: 1 })}>
                  Clear the filters
                </Button>
              </>
            ) : (
              <>
                <Typography variant="h6" component="h2">
                  No targets yet
                </Typography>
                <Typography color="text.secondary" sx={{ mb: 2 }}>
                  Register the machines jobs run on: one at a time, or many from a CSV or JSON file.
                </Typography>
                <Stack direction="row" spacing={1} justifyContent="center">
                  <GatedButton needs="editTargets" variant="contained" onClick={() => navigate("/targets/new")}>
                    New target
                  </GatedButton>
                  <GatedButton needs="importTargets" variant="outlined" onClick={() => navigate("/targets/import")}>
                    Import targets
                  </GatedButton>
                </Stack>
              </>
            )}
          </Paper>
        ) : (
          <Paper variant="outlined">
            <Box sx={{ height: 4 }}>{query.isFetching ? <LinearProgress aria-label="Refreshing" /> : null}</Box>
            <TableContainer>
              <Table size="small" aria-label="Targets">
                <TableHead>
                  <TableRow>
                    <TableCell padding="checkbox">
                      <Checkbox
                        checked={pageAllSelected}
                        indeterminate={!pageAllSelected && pageSomeSelected}
                        onChange={togglePage}
                        slotProps={{ input: { "aria-label": "Select every target on this page" } }}
                      />
                    </TableCell>
                    <TableCell sortDirection={state.sort === "name" ? (state.descending ? "desc" : "asc") : false}>
                      {sortHeader("name", "Name")}
                    </TableCell>
                    <TableCell>Address</TableCell>
                    <TableCell>OS</TableCell>
                    <TableCell sortDirection={state.sort === "environment" ? (state.descending ? "desc" : "asc") : false}>
                      {sortHeader("environment", "Environment")}
                    </TableCell>
                    <TableCell sortDirection={state.sort === "status" ? (state.descending ? "desc" : "asc") : false}>
                      {sortHeader("status", "Status")}
                    </TableCell>
                    <TableCell sortDirection={state.sort === "health_status" ? (state.descending ? "desc" : "asc") : false}>
                      {sortHeader("health_status", "Health")}
                    </TableCell>
                    <TableCell>Tags</TableCell>
                    <TableCell>Labels</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {rows.map((target) => {
                    const selected = selection.kind === "matching" || selection.ids.has(target.id);
                    return (
                      <TableRow key={target.id} hover selected={selected}>
                        <TableCell padding="checkbox">
                          <Checkbox
                            checked={selected}
                            onChange={() => toggleRow(target.id)}
                            slotProps={{ input: { "aria-label": `Select ${target.name}` } }}
                          />
                        </TableCell>
                        <TableCell sx={{ whiteSpace: "nowrap" }}>
                          <Link component={RouterLink} to={`/targets/${target.id}`} fontWeight={500}>
                            {target.name}
                          </Link>
                        </TableCell>
                        <TableCell sx={{ fontFamily: "monospace", fontSize: "0.85rem" }}>{addressOf(target) || "—"}</TableCell>
                        <TableCell>{target.os_family === "windows" ? "Windows" : "Linux"}</TableCell>
                        <TableCell>{ENV_LABELS[target.environment ?? ""] ?? target.environment}</TableCell>
                        <TableCell>{statusLabel(target.status)}</TableCell>
                        <TableCell>
                          <HealthStatus status={target.health.status} message={target.health.message} />
                        </TableCell>
                        <TableCell>
                          <ChipList values={target.tags ?? []} />
                        </TableCell>
                        <TableCell>
                          <ChipList values={Object.entries(target.labels ?? {}).map(([k, v]) => (v ? `${k}=${v}` : k))} />
                        </TableCell>
                      </TableRow>
                    );
                  })}
                </TableBody>
              </Table>
            </TableContainer>
            <TablePagination
              component="div"
              count={count}
              page={Math.max(0, state.page - 1)}
              rowsPerPage={state.pageSize}
              rowsPerPageOptions={[...PAGE_SIZES]}
              onPageChange={(_, page) => setState(changeListState(state, { page: page + 1 }))}
              onRowsPerPageChange={(event) => setState(changeListState(state, { pageSize: Number(event.target.value) }))}
            />
          </Paper>
        )
      ) : null}
    </Box>
  );
}

function statusLabel(status: string | undefined): string {
  if (status === "inactive") return "Inactive";
  if (status === "maintenance") return "Maintenance";
  return "Active";
}

function ChipList({ values, max = 4 }: { values: string[]; max?: number }) {
  if (values.length === 0) return <Typography variant="body2" color="text.secondary">—</Typography>;
  return (
    <Stack direction="row" spacing={0.5} flexWrap="wrap" useFlexGap>
      {values.slice(0, max).map((value) => (
        <Chip key={value} label={value} size="small" variant="outlined" />
      ))}
      {values.length > max ? <Chip label={`+${values.length - max}`} size="small" title={values.slice(max).join(", ")} /> : null}
    </Stack>
  );
}
