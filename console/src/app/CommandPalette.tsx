// The command palette (Ctrl+K / Cmd+K, or the search button of the top bar): type a few letters
// of a name and jump to a target, job, run or schedule, or to a page. It asks the list APIs with
// their `search` parameter (a few results of each, after a short pause in typing), and is a
// combobox with a listbox (WAI-ARIA): arrows move, Enter opens, Escape closes.
import {
  Box,
  Chip,
  CircularProgress,
  Dialog,
  DialogContent,
  DialogTitle,
  InputAdornment,
  List,
  ListItemButton,
  ListItemText,
  TextField,
  Typography,
} from "@mui/material";
import Search from "@mui/icons-material/Search";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap } from "../api/client";
import { canReadAudit, hasRole } from "../auth/roles";
import { useSession } from "../auth/session";
import { formatTime } from "../lib/format";

export interface PaletteItem {
  key: string;
  kind: "Page" | "Target" | "Job" | "Run" | "Schedule";
  label: string;
  detail?: string;
  to: string;
}

const PER_KIND = 5;
const DEBOUNCE_MS = 200;

const PAGES: (PaletteItem & { admin?: boolean; auditor?: boolean })[] = [
  { key: "p-runs", kind: "Page", label: "Runs", to: "/runs" },
  { key: "p-jobs", kind: "Page", label: "Jobs", to: "/jobs" },
  { key: "p-targets", kind: "Page", label: "Targets", to: "/targets" },
  { key: "p-groups", kind: "Page", label: "Groups", to: "/groups" },
  { key: "p-schedules", kind: "Page", label: "Schedules", to: "/schedules" },
  { key: "p-audit", kind: "Page", label: "Audit", to: "/audit", auditor: true },
  { key: "p-people", kind: "Page", label: "People", to: "/people", admin: true },
  { key: "p-account", kind: "Page", label: "My account", to: "/account" },
];

/** A few of each kind whose name matches `term`; a kind the server refuses is left out. */
async function searchEverything(term: string): Promise<PaletteItem[]> {
  const query = { search: term, page_size: PER_KIND };
  const settle = <T,>(promise: Promise<T>) => promise.catch(() => null);
  const [targets, jobs, runs, schedules] = await Promise.all([
    settle(unwrap(api.GET("/api/v1/targets/", { params: { query: { ...query, ordering: "name" } } }))),
    settle(unwrap(api.GET("/api/v1/jobs/", { params: { query: { ...query, ordering: "name" } } }))),
    settle(unwrap(api.GET("/api/v1/runs/", { params: { query } }))),
    settle(unwrap(api.GET("/api/v1/schedules/", { params: { query: { ...query, ordering: "name" } } }))),
  ]);
  return [
    ...(targets?.results ?? []).map((t) => ({
      key: `t-${t.id}`,
      kind: "Target" as const,
      label: t.name,
      detail: [t.os_family, t.environment].filter(Boolean).join(" · "),
      to: `/targets/${t.id}`,
    })),
    ...(jobs?.results ?? []).map((j) => ({
      key: `j-${j.id}`,
      kind: "Job" as const,
      label: j.name,
      detail: `v${j.version}${j.archived ? " · archived" : ""}`,
      to: `/jobs/${j.id}`,
    })),
    ...(runs?.results ?? []).map((r) => ({
      key: `r-${r.id}`,
      kind: "Run" as const,
      label: r.job_name,
      detail: `${r.status} · ${formatTime(r.created_at)}`,
      to: `/runs/${r.id}`,
    })),
    ...(schedules?.results ?? []).map((s) => ({
      key: `s-${s.id}`,
      kind: "Schedule" as const,
      label: s.name,
      detail: `${s.job_name} · ${s.enabled ? "enabled" : "paused"}`,
      to: `/schedules/${s.id}`,
    })),
  ];
}

export function CommandPalette({ open, onClose }: { open: boolean; onClose: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth="sm" aria-labelledby="palette-title" sx={{ "& .MuiDialog-container": { alignItems: "flex-start" } }}>
      {open ? <PaletteBody onClose={onClose} /> : null}
    </Dialog>
  );
}

function PaletteBody({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const { me } = useSession();
  const id = useId();
  const [text, setText] = useState("");
  const [term, setTerm] = useState("");
  // the chosen option by its key: results arriving later do not move the choice to another item
  const [activeKey, setActiveKey] = useState<string | null>(null);

  useEffect(() => {
    const timer = window.setTimeout(() => setTerm(text.trim()), DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [text]);

  const found = useQuery({
    queryKey: ["palette", term],
    queryFn: () => searchEverything(term),
    enabled: term.length > 0,
    staleTime: 5_000,
  });

  const items = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const pages = PAGES.filter((p) => (!p.admin || hasRole(me, "admin")) && (!p.auditor || canReadAudit(me)) && (!needle || p.label.toLowerCase().includes(needle)));
    return [...(term ? (found.data ?? []) : []), ...pages];
  }, [text, term, found.data, me]);

  const chosen = items.findIndex((item) => item.key === activeKey);
  const active = chosen === -1 ? 0 : chosen;
  const setActive = (update: (index: number) => number) => setActiveKey(items[update(active)]?.key ?? null);

  const open = (item: PaletteItem | undefined) => {
    if (!item) return;
    onClose();
    navigate(item.to);
  };

  const onKeyDown = (event: React.KeyboardEvent) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((i) => (items.length ? (i + 1) % items.length : 0));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => (items.length ? (i - 1 + items.length) % items.length : 0));
    } else if (event.key === "Home") {
      event.preventDefault();
      setActive(() => 0);
    } else if (event.key === "End") {
      event.preventDefault();
      setActive(() => Math.max(0, items.length - 1));
    } else if (event.key === "Enter") {
      event.preventDefault();
      open(items[active]);
    }
  };

  useEffect(() => {
    document.getElementById(`${id}-option-${active}`)?.scrollIntoView?.({ block: "nearest" });
  }, [active, id]);

  const listId = `${id}-listbox`;
  const searching = term.length > 0 && found.isFetching;
  const waiting = text.trim() !== term;
  return (
    <>
      <DialogTitle id="palette-title" sx={{ pb: 1 }}>
        Jump to
      </DialogTitle>
      <DialogContent sx={{ pb: 1 }}>
        <TextField
          autoFocus
          fullWidth
          size="small"
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setActiveKey(null);
          }}
          onKeyDown={onKeyDown}
          placeholder="A target, job, run or schedule by name, or a page"
          slotProps={{
            htmlInput: {
              role: "combobox",
              "aria-label": "Name to jump to",
              "aria-expanded": items.length > 0,
              "aria-controls": listId,
              "aria-autocomplete": "list",
              "aria-activedescendant": items.length ? `${id}-option-${active}` : undefined,
              autoComplete: "off",
              spellCheck: false,
            },
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <Search />
                </InputAdornment>
              ),
              endAdornment: searching ? (
                <InputAdornment position="end">
                  <CircularProgress size={18} aria-label="Searching" />
                </InputAdornment>
              ) : null,
            },
          }}
        />
        <List id={listId} role="listbox" aria-label="Matches" dense sx={{ maxHeight: 360, overflowY: "auto", mt: 1 }}>
          {items.map((item, index) => (
            <ListItemButton
              key={item.key}
              id={`${id}-option-${index}`}
              role="option"
              aria-selected={index === active}
              selected={index === active}
              tabIndex={-1}
              onMouseEnter={() => setActiveKey(item.key)}
              onClick={() => open(item)}
            >
              <Chip size="small" label={item.kind} variant="outlined" sx={{ mr: 1.5, minWidth: 80 }} />
              <ListItemText primary={item.label} secondary={item.detail} slotProps={{ primary: { noWrap: true }, secondary: { noWrap: true } }} />
            </ListItemButton>
          ))}
        </List>
        <Box role="status" aria-live="polite" sx={{ minHeight: 24 }}>
          {term && !waiting && !searching && found.data && found.data.length === 0 ? (
            <Typography variant="body2" color="text.secondary">
              Nothing is named like “{term}”. Try fewer letters, or open a list and filter it.
            </Typography>
          ) : !term ? (
            <Typography variant="body2" color="text.secondary">
              Type a name. ↑ ↓ to choose, Enter to open, Esc to close.
            </Typography>
          ) : null}
        </Box>
      </DialogContent>
    </>
  );
}
