import { fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createShortcutHandler, focusPageSearch, movePageRow, setShortcutsEnabled, shortcutsEnabled, SHORTCUTS_KEY, type ShortcutActions } from "./shortcuts";

function actions(): ShortcutActions & { [K in keyof ShortcutActions]: ReturnType<typeof vi.fn> } {
  return {
    navigate: vi.fn(),
    openSheet: vi.fn(),
    openPalette: vi.fn(),
    focusSearch: vi.fn(() => true),
    moveRow: vi.fn(() => true),
  };
}

let detach: (() => void) | null = null;

function listen(a: ShortcutActions, enabled?: () => boolean) {
  const handler = createShortcutHandler(a, enabled);
  document.addEventListener("keydown", handler);
  detach = () => document.removeEventListener("keydown", handler);
}

function press(key: string, target: Element = document.body, init: KeyboardEventInit = {}) {
  fireEvent.keyDown(target, { key, ...init });
}

beforeEach(() => window.localStorage.clear());
afterEach(() => {
  detach?.();
  detach = null;
  vi.useRealTimers();
  document.body.innerHTML = "";
});

describe("keyboard shortcuts", () => {
  it("goes to a page with g then a letter, and opens the sheet with ?", () => {
    const a = actions();
    listen(a);
    press("g");
    press("j");
    expect(a.navigate).toHaveBeenCalledWith("/jobs");
    press("g");
    press("t");
    press("g");
    press("s");
    press("g");
    press("a");
    press("g");
    press("r");
    expect(a.navigate.mock.calls.map((c) => c[0])).toEqual(["/jobs", "/targets", "/schedules", "/audit", "/runs"]);
    press("?");
    expect(a.openSheet).toHaveBeenCalledTimes(1);
    // j and k alone move between rows, / focuses the search
    press("j");
    press("k");
    press("/");
    expect(a.moveRow.mock.calls).toEqual([[1], [-1]]);
    expect(a.focusSearch).toHaveBeenCalledTimes(1);
  });

  it("forgets a g not followed by a letter soon enough", () => {
    vi.useFakeTimers();
    const a = actions();
    listen(a);
    press("g");
    vi.advanceTimersByTime(2000);
    press("j");
    expect(a.navigate).not.toHaveBeenCalled();
    expect(a.moveRow).toHaveBeenCalledWith(1);
  });

  it("never fires while typing in a field, a text area, a select or editable text", () => {
    const a = actions();
    listen(a);
    render(
      <div>
        <input aria-label="name" />
        <textarea aria-label="notes" />
        <select aria-label="pick">
          <option>x</option>
        </select>
        <div contentEditable aria-label="editor" />
        <div role="combobox" aria-label="combo" tabIndex={0} aria-expanded="false" aria-controls="nothing" />
      </div>,
    );
    for (const field of [
      screen.getByLabelText("name"),
      screen.getByLabelText("notes"),
      screen.getByLabelText("pick"),
      screen.getByLabelText("editor"),
      screen.getByLabelText("combo"),
    ]) {
      press("?", field);
      press("g", field);
      press("j", field);
      press("/", field);
      press("k", field);
    }
    expect(a.openSheet).not.toHaveBeenCalled();
    expect(a.navigate).not.toHaveBeenCalled();
    expect(a.moveRow).not.toHaveBeenCalled();
    expect(a.focusSearch).not.toHaveBeenCalled();
    // a g typed in a field does not arm a later j outside it
    press("g", screen.getByLabelText("name"));
    press("j");
    expect(a.navigate).not.toHaveBeenCalled();
  });

  it("does nothing when turned off (kept in localStorage), except the palette", () => {
    const a = actions();
    listen(a); // asks the stored setting at every key
    setShortcutsEnabled(false);
    expect(window.localStorage.getItem(SHORTCUTS_KEY)).toBe("off");
    expect(shortcutsEnabled()).toBe(false);
    press("?");
    press("g");
    press("j");
    press("/");
    expect(a.openSheet).not.toHaveBeenCalled();
    expect(a.navigate).not.toHaveBeenCalled();
    expect(a.focusSearch).not.toHaveBeenCalled();
    press("k", document.body, { ctrlKey: true });
    expect(a.openPalette).toHaveBeenCalledTimes(1);
    setShortcutsEnabled(true);
    press("?");
    expect(a.openSheet).toHaveBeenCalledTimes(1);
  });

  it("opens the palette with Ctrl+K or Cmd+K, even from a field, and ignores other modified keys", () => {
    const a = actions();
    listen(a);
    render(<input aria-label="name" />);
    press("k", screen.getByLabelText("name"), { ctrlKey: true });
    press("K", document.body, { metaKey: true, shiftKey: true });
    expect(a.openPalette).toHaveBeenCalledTimes(2);
    press("j", document.body, { ctrlKey: true });
    press("g", document.body, { altKey: true });
    expect(a.moveRow).not.toHaveBeenCalled();
  });
});

describe("what / and j/k act on", () => {
  it("focuses the page's search field", () => {
    render(
      <main>
        <input aria-label="Other" />
        <div role="search">
          <label htmlFor="s">Search name</label>
          <input id="s" />
        </div>
      </main>,
    );
    expect(focusPageSearch()).toBe(true);
    expect(document.activeElement).toBe(screen.getByLabelText("Search name"));
  });

  it("finds a search field by its label, and says when the page has none", () => {
    const { unmount } = render(
      <main>
        <label htmlFor="q">Search credentials</label>
        <input id="q" />
      </main>,
    );
    expect(focusPageSearch()).toBe(true);
    expect(document.activeElement).toBe(screen.getByLabelText("Search credentials"));
    unmount();
    render(
      <main>
        <input aria-label="Name" />
      </main>,
    );
    expect(focusPageSearch()).toBe(false);
  });

  it("moves through the rows of the page's table, to each row's link", () => {
    render(
      <main>
        <table>
          <tbody>
            {["a", "b", "c"].map((name) => (
              <tr key={name}>
                <td>
                  <a href={`/x/${name}`}>{name}</a>
                </td>
                <td>more</td>
              </tr>
            ))}
          </tbody>
        </table>
      </main>,
    );
    expect(movePageRow(1)).toBe(true);
    expect(document.activeElement).toHaveTextContent("a");
    movePageRow(1);
    movePageRow(1);
    expect(document.activeElement).toHaveTextContent("c");
    movePageRow(1); // stays on the last row
    expect(document.activeElement).toHaveTextContent("c");
    movePageRow(-1);
    expect(document.activeElement).toHaveTextContent("b");
  });

  it("says when the page has no list", () => {
    render(<main>nothing</main>);
    expect(movePageRow(1)).toBe(false);
  });
});
