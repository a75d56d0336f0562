// The audit trail (admins and auditors): every filter of the API in the URL, pages by the API's
// cursor (a page never shifts while records arrive: a notice offers the newer ones instead),
// export of the current filter, and the chain's verification.
import {
  Alert,
  Box,
  Button,
  Chip,
  Collapse,
  FormControl,
  InputLabel,
  LinearProgress,
  Menu,
  MenuItem,
  Paper,
  Select,
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
import Download from "@mui/icons-material/Download";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { memo, useCallback, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type paths } from "../../api/client";
import { AUDIT_REASON, canReadAudit } from "../../auth/roles";
import { useSession } from "../../auth/session";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { Time } from "../../components/Time";
import { useDebouncedParam } from "../../lib/useDebouncedParam";
import { AuditTabs } from "./AuditTabs";
import {
  ACTOR_KINDS,
  FILTER_KEYS,
  FILTER_LABELS,
  OUTCOMES,
  PAGE_SIZES,
  cursorOf,
  exportHref,
  filterQuery,
  filtersFromParams,
  fromLocalInput,
  hasFilters,
  pageSizeFromParams,
  toLocalInput,
  withCursor,
  withFilters,
  type FilterKey,
  type Filters,
} from "./filters";
import { actorLabel, actorOf, objectLabel, objectOf, outcomeTone, type AuditRecord } from "./format";
import { useSearchUpdate } from "./useSearchUpdate";
import { VerificationCard } from "./VerificationCard";

type ListQuery = NonNullable<paths["/api/v1/audit/events/"]["get"]["parameters"]["query"]>;

function listQuery(filters: Filters, extra: { cursor?: string | null; page_size: number }): ListQuery {
  const query: Record<string, string | number> = Object.fromEntries(filterQuery(filters).entries());
  if (extra.cursor) query.cursor = extra.cursor;
  query.page_size = extra.page_size;
  return query as ListQuery;
}

function TextFilter({ name, label, value, onCommit, width = 180, placeholder }: { name: FilterKey; label: string; value: string; onCommit: (key: FilterKey, value: string) => void; width?: number; placeholder?: string }) {
  const [draft, setDraft] = useDebouncedParam(value, (next) => onCommit(name, next.trim()), 400);
  return (
    <TextField
      size="small"
      label={label}
      value={draft}
      placeholder={placeholder}
      onChange={(event) => setDraft(event.target.value)}
      sx={{ width }}
      slotProps={{ htmlInput: { "data-filter": name } }}
    />
  );
}

function ChoiceFilter({ name, label, value, options, onCommit }: { name: FilterKey; label: string; value: string; options: string[]; onCommit: (key: FilterKey, value: string) => void }) {
  const id = `audit-filter-${name}`;
  const all = value && !options.includes(value) ? [value, ...options] : options;
  return (
    <FormControl size="small" sx={{ minWidth: 150 }}>
      <InputLabel id={`${id}-label`}>{label}</InputLabel>
      <Select labelId={`${id}-label`} label={label} value={value} onChange={(event) => onCommit(name, event.target.value)}>
        <MenuItem value="">
          <em>any</em>
        </MenuItem>
        {all.map((option) => (
          <MenuItem key={option} value={option}>
            {option}
          </MenuItem>
        ))}
      </Select>
    </FormControl>
  );
}

const ExportMenu = memo(function ExportMenu({ filters }: { filters: Filters }) {
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  return (
    <>
      <Button variant="outlined" startIcon={<Download />} onClick={(event) => setAnchor(event.currentTarget)} aria-haspopup="menu">
        Export
      </Button>
      <Menu anchorEl={anchor} open={Boolean(anchor)} onClose={() => setAnchor(null)}>
        {/* plain links: the session cookie goes with them and the file streams to disk */}
        <MenuItem component="a" href={exportHref(filters, "csv")} download onClick={() => setAnchor(null)}>
          {hasFilters(filters) ? "These records as CSV" : "Every record as CSV"}
        </MenuItem>
        <MenuItem component="a" href={exportHref(filters, "jsonl")} download onClick={() => setAnchor(null)}>
          {hasFilters(filters) ? "These records as JSON Lines" : "Every record as JSON Lines"}
        </MenuItem>
      </Menu>
    </>
  );
});

// the record's page knows it was opened from the list (its "Back" returns to the same page)
const FROM_LIST = { fromList: true };

const RecordRow = memo(function RecordRow({ record }: { record: AuditRecord }) {
  const actor = actorOf(record);
  const object = objectOf(record);
  return (
    <TableRow hover>
      <TableCell sx={{ whiteSpace: "nowrap" }}>
        <Time value={record.occurred_at} />
      </TableCell>
      <TableCell>
        {actorLabel(actor)}
        {actor.kind && actor.kind !== "user" && actor.kind !== "system" ? (
          <Typography variant="caption" color="text.secondary" component="div">
            {actor.kind}
          </Typography>
        ) : null}
      </TableCell>
      <TableCell>
        <Link to={`/audit/${record.id}`} state={FROM_LIST}>
          <code>{record.action}</code>
        </Link>
      </TableCell>
      <TableCell sx={{ overflowWrap: "anywhere" }}>{objectLabel(object)}</TableCell>
      <TableCell>{record.outcome ? <Chip size="small" variant="outlined" color={outcomeTone(record.outcome)} label={record.outcome} /> : "—"}</TableCell>
      <TableCell>{record.source_ip ?? "—"}</TableCell>
    </TableRow>
  );
});

const MORE: FilterKey[] = ["actor_id", "actor_kind", "action_prefix", "object", "request_id"];

/** Every filter of the API; rendered again only when the filters change (not on paging). */
const FilterBar = memo(function FilterBar({ filters, commit, clear }: { filters: Filters; commit: (key: FilterKey | "page_size", value: string | null) => void; clear: () => void }) {
  const [more, setMore] = useState(() => MORE.some((key) => filters[key]));
  const filtered = hasFilters(filters);
  return (
    <>
      <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap" alignItems="center" sx={{ mb: 1 }} role="search" aria-label="Filter the audit trail">
        <TextFilter name="q" label="Search text" value={filters.q ?? ""} onCommit={commit} width={220} placeholder="action, actor, object, agent…" />
        <TextFilter name="actor" label="Actor" value={filters.actor ?? ""} onCommit={commit} width={150} />
        <TextFilter name="action" label="Action" value={filters.action ?? ""} onCommit={commit} width={230} placeholder="e.g. execution.run.requested" />
        <TextFilter name="object_type" label="Object type" value={filters.object_type ?? ""} onCommit={commit} width={130} placeholder="e.g. run" />
        <TextFilter name="object_id" label="Object id" value={filters.object_id ?? ""} onCommit={commit} width={150} />
        <ChoiceFilter name="outcome" label="Outcome" value={filters.outcome ?? ""} options={OUTCOMES} onCommit={commit} />
        <TextFilter name="source_ip" label="Address" value={filters.source_ip ?? ""} onCommit={commit} width={150} />
        <TextField
          size="small"
          type="datetime-local"
          label="From"
          value={toLocalInput(filters.since)}
          onChange={(event) => commit("since", fromLocalInput(event.target.value))}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          size="small"
          type="datetime-local"
          label="Until"
          value={toLocalInput(filters.until)}
          onChange={(event) => commit("until", fromLocalInput(event.target.value))}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <Button onClick={() => setMore(!more)} aria-expanded={more} aria-controls="audit-more-filters">
          {more ? "Fewer filters" : "More filters"}
        </Button>
        {filtered ? <Button onClick={clear}>Clear filters</Button> : null}
      </Stack>
      <Collapse in={more} id="audit-more-filters">
        <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap" alignItems="center" sx={{ mb: 1, mt: 1 }}>
          <ChoiceFilter name="actor_kind" label="Actor kind" value={filters.actor_kind ?? ""} options={ACTOR_KINDS} onCommit={commit} />
          <TextFilter name="actor_id" label="Actor id" value={filters.actor_id ?? ""} onCommit={commit} width={200} />
          <TextFilter name="action_prefix" label="Action starts with" value={filters.action_prefix ?? ""} onCommit={commit} width={200} placeholder="e.g. targets.credential." />
          <TextFilter name="object" label="Object (type:id or name)" value={filters.object ?? ""} onCommit={commit} width={230} />
          <TextFilter name="request_id" label="Request id" value={filters.request_id ?? ""} onCommit={commit} width={200} />
        </Stack>
      </Collapse>
      {filtered ? (
        <Stack direction="row" spacing={1} useFlexGap flexWrap="wrap" sx={{ mb: 2 }} aria-label="Active filters">
          {FILTER_KEYS.filter((key) => filters[key]).map((key) => (
            <Chip
              key={key}
              size="small"
              label={`${FILTER_LABELS[key]}: ${key === "since" || key === "until" ? new Date(filters[key]!).toLocaleString() : filters[key]}`}
              onDelete={() => commit(key, null)}
            />
          ))}
        </Stack>
      ) : (
        <Box sx={{ mb: 2 }} />
      )}
    </>
  );
});

const NO_ROWS: AuditRecord[] = [];

const ResultsTable = memo(function ResultsTable({ rows, fetching, pending, filtered, paged }: { rows: AuditRecord[]; fetching: boolean; pending: boolean; filtered: boolean; paged: boolean }) {
  return (
    <TableContainer component={Paper} variant="outlined">
      {fetching ? <LinearProgress aria-label="Loading records" /> : null}
      <Table size="small" aria-label="Audit records">
        <TableHead>
          <TableRow>
            <TableCell>Time</TableCell>
            <TableCell>Actor</TableCell>
            <TableCell>Action</TableCell>
            <TableCell>Object</TableCell>
            <TableCell>Outcome</TableCell>
            <TableCell>Address</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map((record) => (
            <RecordRow key={record.id} record={record} />
          ))}
          {!pending && rows.length === 0 ? (
            <TableRow>
              <TableCell colSpan={6}>
                <Typography color="text.secondary" sx={{ py: 2 }}>
                  {filtered
                    ? "No record matches these filters. Widen the time range or remove a filter."
                    : paged
                      ? "No more records. Go back to the newest."
                      : "The trail is empty so far: sign-ins, changes and runs are recorded here as they happen."}
                </Typography>
              </TableCell>
            </TableRow>
          ) : null}
        </TableBody>
      </Table>
    </TableContainer>
  );
});

export default function AuditPage() {
  const { me } = useSession();
  const client = useQueryClient();
  const allowed = canReadAudit(me);
  const [params, update] = useSearchUpdate();
  const filterKey = filterQuery(filtersFromParams(params)).toString();
  // the same object while the filters stay the same (paging changes only the cursor)
  const filters = useMemo(() => filtersFromParams(new URLSearchParams(filterKey)), [filterKey]);
  const cursor = params.get("cursor");
  const pageSize = pageSizeFromParams(params);
  const commit = useCallback((key: FilterKey | "page_size", value: string | null) => update((current) => withFilters(current, { [key]: value })), [update]);
  const clear = useCallback(() => update(() => new URLSearchParams()), [update]);

  const page = useQuery({
    queryKey: ["audit", "list", filterKey, cursor, pageSize],
    queryFn: () => unwrap(api.GET("/api/v1/audit/events/", { params: { query: listQuery(filters, { cursor, page_size: pageSize }) } })),
    placeholderData: keepPreviousData,
    // a page stays as it was loaded: new records are offered by the notice, never pushed in
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });

  // the newest record matching the filters, asked every 10 s: newer than what the walk started
  // from means records arrived
  const newest = useQuery({
    queryKey: ["audit", "newest", filterKey],
    queryFn: () => unwrap(api.GET("/api/v1/audit/events/", { params: { query: listQuery(filters, { page_size: 1 }) } })),
    refetchInterval: 10_000,
    enabled: allowed && !page.error,
  });
  // what the walk started from: the newest page's top record when it was loaded, or (a walk
  // opened on a later page, from a shared link) the newest record when the page opened
  const [baseline, setBaseline] = useState<{ key: string; sequence: number } | null>(null);
  const firstTop = page.data && !cursor && !page.isPlaceholderData ? (page.data.results[0]?.sequence ?? 0) : undefined;
  const probe = newest.data ? (newest.data.results[0]?.sequence ?? 0) : undefined;
  const start = firstTop ?? probe;
  if (start !== undefined && (baseline?.key !== filterKey || (firstTop !== undefined && firstTop > baseline.sequence))) {
    setBaseline({ key: filterKey, sequence: start });
  }
  const arrived = baseline?.key === filterKey && probe !== undefined && probe > baseline.sequence;

  const showNewest = () => {
    void client.invalidateQueries({ queryKey: ["audit", "list", filterKey] });
    update((current) => withCursor(current, null), { replace: false });
  };

  const older = cursorOf(page.data?.next);
  const newer = cursorOf(page.data?.previous);
  const filtered = hasFilters(filters);

  return (
    <>
      <PageHeader
        title="Audit"
        subtitle="Who did what, when, from where: every event of every app, newest first. Records are never changed."
        actions={allowed ? <ExportMenu filters={filters} /> : null}
      />
      <AuditTabs />
      {!allowed && !page.error ? (
        <Alert severity="warning" sx={{ mb: 2 }}>
          {AUDIT_REASON}
        </Alert>
      ) : null}
      {allowed ? <VerificationCard /> : null}
      <FilterBar filters={filters} commit={commit} clear={clear} />
      {arrived ? (
        <Alert
          severity="info"
          role="status"
          sx={{ mb: 2 }}
          action={
            <Button color="inherit" size="small" onClick={showNewest}>
              Show newest
            </Button>
          }
        >
          Newer records are available. This page stays as it is until you ask for them.
        </Alert>
      ) : null}
      {page.error ? <ErrorAlert error={page.error} /> : null}
      {!page.error ? (
        <>
          <ResultsTable rows={page.data?.results ?? NO_ROWS} fetching={page.isFetching} pending={page.isPending} filtered={filtered} paged={Boolean(cursor)} />
          <Stack direction="row" spacing={1} alignItems="center" justifyContent="flex-end" sx={{ mt: 1 }} component="nav" aria-label="Pages of records">
            <FormControl size="small" sx={{ minWidth: 110 }}>
              <InputLabel id="audit-page-size-label">Per page</InputLabel>
              <Select labelId="audit-page-size-label" label="Per page" value={pageSize} onChange={(event) => commit("page_size", String(event.target.value))}>
                {PAGE_SIZES.map((size) => (
                  <MenuItem key={size} value={size}>
                    {size}
                  </MenuItem>
                ))}
              </Select>
            </FormControl>
            <Button disabled={!cursor} onClick={() => update((current) => withCursor(current, null), { replace: false })}>
              Newest
            </Button>
            <Button disabled={!newer} onClick={() => update((current) => withCursor(current, newer), { replace: false })}>
              Newer
            </Button>
            <Button disabled={!older} onClick={() => update((current) => withCursor(current, older), { replace: false })}>
              Older
            </Button>
          </Stack>
        </>
      ) : null}
    </>
  );
}
