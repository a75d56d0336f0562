// Keyboard shortcuts of every page: `?` opens the sheet, `g` then a letter goes to a page, `/`
// focuses the page's search field, `j`/`k` move between the rows of a list. Single keys never
// fire while typing (inputs, text areas, selects, editable text) nor inside a dialog or menu,
// and a user can turn them off (My account; kept in this browser's localStorage): a screen
// reader's or a voice-control user's keys must not trigger anything (WCAG 2.1.4). Ctrl+K / Cmd+K
// (the command palette) is not a single-key shortcut and stays on.
import { useSyncExternalStore } from "react";

export const SHORTCUTS_KEY = "opsconductor.shortcuts";
const CHANGED = "opsconductor-shortcuts-changed";

export function shortcutsEnabled(): boolean {
  return window.localStorage.getItem(SHORTCUTS_KEY) !== "off";
}

export function setShortcutsEnabled(on: boolean) {
  if (on) window.localStorage.removeItem(SHORTCUTS_KEY);
  else window.localStorage.setItem(SHORTCUTS_KEY, "off");
  window.dispatchEvent(new Event(CHANGED));
}

function subscribe(callback: () => void) {
  window.addEventListener(CHANGED, callback);
  window.addEventListener("storage", callback); // another tab changed it
  return () => {
    window.removeEventListener(CHANGED, callback);
    window.removeEventListener("storage", callback);
  };
}

/** Whether the single-key shortcuts are on, and the switch (re-renders on any change). */
export function useShortcutsSetting(): [boolean, (on: boolean) => void] {
  const on = useSyncExternalStore(subscribe, shortcutsEnabled, () => true);
  return [on, setShortcutsEnabled];
}

/** Where `g` + a letter goes. */
export const GO_TO: Record<string, { path: string; label: string }> = {
  t: { path: "/targets", label: "Targets" },
  j: { path: "/jobs", label: "Jobs" },
  r: { path: "/runs", label: "Runs" },
  s: { path: "/schedules", label: "Schedules" },
  a: { path: "/audit", label: "Audit" },
};

/** What the sheet lists, in order. */
export const SHEET: { keys: string[]; what: string }[] = [
  { keys: ["?"], what: "Show this list of shortcuts" },
  { keys: ["Ctrl", "K"], what: "Open the command palette: jump to a target, job, run or schedule (⌘ K on a Mac)" },
  ...Object.entries(GO_TO).map(([key, { label }]) => ({ keys: ["g", key], what: `Go to ${label}` })),
  { keys: ["/"], what: "Focus the page's search field" },
  { keys: ["j"], what: "Next row of the list" },
  { keys: ["k"], what: "Previous row of the list" },
];

export interface ShortcutActions {
  navigate: (path: string) => void;
  openSheet: () => void;
  openPalette: () => void;
  focusSearch: () => boolean;
  moveRow: (step: 1 | -1) => boolean;
}

/** True when keys typed at `target` are text (or belong to a widget that uses them). */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  // (isContentEditable also covers children of editable text; the attribute where it is unknown)
  if (target.isContentEditable || target.closest('[contenteditable]:not([contenteditable="false"])')) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (target as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].includes(type);
  }
  const role = target.getAttribute("role");
  return role === "textbox" || role === "combobox" || role === "searchbox";
}

function inOverlay(target: EventTarget | null): boolean {
  return target instanceof Element && Boolean(target.closest('[role="dialog"], [role="menu"], [role="listbox"], [role="alertdialog"]'));
}

const SEQUENCE_MS = 1500;

/** A keydown handler for the document: the shortcuts above, given what they do. `enabled` is
 * asked at each key, so turning them off takes effect at once. */
export function createShortcutHandler(actions: ShortcutActions, enabled: () => boolean = shortcutsEnabled) {
  let pendingG = 0; // when `g` was pressed (0: not waiting for a second key)
  return (event: KeyboardEvent) => {
    if (event.defaultPrevented || event.isComposing) return;
    // Ctrl+K / Cmd+K: the palette, from anywhere (even a text field: it is no text)
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      actions.openPalette();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!enabled() || isTyping(event.target) || inOverlay(event.target)) {
      pendingG = 0;
      return;
    }
    const key = event.key;
    if (pendingG && Date.now() - pendingG <= SEQUENCE_MS) {
      pendingG = 0;
      const destination = GO_TO[key.toLowerCase()];
      if (destination) {
        event.preventDefault();
        actions.navigate(destination.path);
      }
      return;
    }
    pendingG = 0;
    switch (key) {
      case "?":
        event.preventDefault();
        actions.openSheet();
        return;
      case "g":
        pendingG = Date.now();
        return;
      case "/":
        if (actions.focusSearch()) event.preventDefault();
        return;
      case "j":
        if (actions.moveRow(1)) event.preventDefault();
        return;
      case "k":
        if (actions.moveRow(-1)) event.preventDefault();
        return;
    }
  };
}

// --- what `/` and `j`/`k` act on: the page's own elements, found in its main region ------------

const SEARCH_SELECTORS = [
  'main [role="search"] input:not([type="hidden"]):not([type="checkbox"]):not([aria-hidden="true"])',
  'main input[type="search"]',
  "main input[aria-label*='earch' i]",
];

/** Focus the page's search field (the first of its search region); false when it has none. */
export function focusPageSearch(root: ParentNode = document): boolean {
  const labelled = () =>
    Array.from(root.querySelectorAll<HTMLInputElement>("main input")).find((input) =>
      Array.from(input.labels ?? []).some((label) => /search/i.test(label.textContent ?? "")),
    ) ?? null;
  const candidates = [...SEARCH_SELECTORS.map((selector) => () => root.querySelector<HTMLInputElement>(selector)), labelled];
  for (const find of candidates) {
    const input = find();
    if (input && !input.disabled) {
      input.focus();
      input.select?.();
      return true;
    }
  }
  return false;
}

const FOCUSABLE = 'a[href], button:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Move the focus to the next (1) or previous (-1) row of the page's first list (a table's
 * body rows): to the row's first link or button, else to the row itself. False without rows. */
export function movePageRow(step: 1 | -1, root: ParentNode = document): boolean {
  const rows = Array.from(root.querySelectorAll<HTMLTableRowElement>("main table tbody tr")).filter(
    (row) => row.cells.length > 1 || row.querySelector(FOCUSABLE),
  );
  if (rows.length === 0) return false;
  const active = document.activeElement;
  const current = rows.findIndex((row) => active instanceof Node && row.contains(active));
  const next = current === -1 ? (step === 1 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, current + step));
  const row = rows[next];
  const target = row.querySelector<HTMLElement>(FOCUSABLE) ?? row;
  if (target === row && !row.hasAttribute("tabindex")) row.tabIndex = -1;
  target.focus();
  target.scrollIntoView?.({ block: "nearest" });
  return true;
}
