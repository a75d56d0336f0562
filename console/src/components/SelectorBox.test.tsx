import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderWith } from "../test/render";

// the API client keeps the fetch (and Request) it was made with: replace them before the
// client is imported; requests to the page's own origin, as in a browser
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn();
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, "http://localhost/") : input, init);
    }
  } as typeof Request;
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});

import { SelectorBox, selectorProblemOf, SELECTOR_DEBOUNCE_MS } from "./SelectorBox";

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function sentSelectors(): Promise<string[]> {
  return Promise.all(
    fetchMock.mock.calls.map(async ([request]) => ((await (request as Request).clone().json()) as { selector: string }).selector),
  );
}

function Harness({ initial = "" }: { initial?: string }) {
  const [value, setValue] = useState(initial);
  return <SelectorBox value={value} onChange={setValue} label="Targets" />;
}

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true });
  fetchMock.mockReset();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("SelectorBox", () => {
  it("shows how many targets the selector selects and the first names, with a link to all", async () => {
    fetchMock.mockResolvedValue(
      json(200, {
        count: 42,
        next: null,
        previous: null,
        results: [
          { id: "a1", name: "web-01" },
          { id: "a2", name: "web-02" },
        ],
      }),
    );
    renderWith(<Harness initial="tag:web" />);
    act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS + 10));
    expect(await screen.findByText("42 targets selected")).toBeInTheDocument();
    expect(screen.getByText("web-01")).toBeInTheDocument();
    expect(screen.getByText("web-02").closest("a")).toHaveAttribute("href", "/targets/a2");
    expect(screen.getByRole("link", { name: /See all 42 in the targets list/ })).toHaveAttribute(
      "href",
      "/targets?selector=tag%3Aweb",
    );
  });

  it("asks the server once the typing has stopped, with the last text only", async () => {
    fetchMock.mockImplementation(async () => json(200, { count: 3, results: [] }));
    renderWith(<Harness />);
    const input = screen.getByLabelText("Targets");
    for (const text of ["e", "en", "env", "env=", "env=staging"]) {
      fireEvent.change(input, { target: { value: text } });
      act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS / 4));
    }
    expect(fetchMock).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS));
    expect(await screen.findByText("3 targets selected")).toBeInTheDocument();
    expect(await sentSelectors()).toEqual(["env=staging"]);
  });

  it("asks nothing for an empty text", () => {
    renderWith(<Harness />);
    act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS * 3));
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("points at the position of the error the server reports", async () => {
    const message =
      "unexpected 'and' at position 19: expected a term (field=value, tag:NAME, label:KEY, group:NAME or all)";
    fetchMock.mockResolvedValue(
      json(400, {
        error: { code: "validation_error", message, fields: { selector: [message] }, positions: { selector: 19 } },
      }),
    );
    renderWith(<Harness initial="env=production and and tag:web" />);
    act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS + 10));
    expect(await screen.findByText(message)).toBeInTheDocument();
    const pointer = screen.getByTestId("selector-error-pointer").textContent ?? "";
    const [line, caret] = pointer.split("\n");
    expect(line).toBe("env=production and and tag:web");
    expect(caret.indexOf("^")).toBe(19);
    expect(line.slice(caret.indexOf("^"))).toMatch(/^and tag:web/);
    expect(screen.getByLabelText("Targets")).toHaveAttribute("aria-invalid", "true");

    // the keyboard reaches the place: the caret moves to the error in the input
    fireEvent.click(screen.getByRole("button", { name: "Go to position 19" }));
    const input = screen.getByLabelText<HTMLInputElement>("Targets");
    expect(document.activeElement).toBe(input);
    expect(input.selectionStart).toBe(19);
  });

  it("keeps the caret in view in a long selector", async () => {
    const long = `${"tag:a or ".repeat(20)}tag:`;
    const position = long.length;
    const message = `unexpected end of selector at position ${position}: expected a name`;
    fetchMock.mockResolvedValue(
      json(400, { error: { code: "validation_error", message, fields: { selector: [message] }, positions: { selector: position } } }),
    );
    renderWith(<Harness initial={long} />);
    act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS + 10));
    await screen.findByText(message);
    const [line, caret] = (screen.getByTestId("selector-error-pointer").textContent ?? "").split("\n");
    expect(line.startsWith("…")).toBe(true);
    expect(line.length).toBeLessThan(70);
    expect(caret.indexOf("^")).toBe(line.length);
  });
});

describe("selectorProblemOf", () => {
  it("reads the position from error.positions, or else from the message", () => {
    expect(selectorProblemOf({ code: "x", message: "m", fields: { selector: ["bad at position 4"] }, positions: { selector: 4 } })).toEqual({
      message: "bad at position 4",
      position: 4,
    });
    expect(selectorProblemOf({ code: "x", message: "m", fields: { selector: ["invalid environment 'prod' at position 4: …"] } })).toEqual({
      message: "invalid environment 'prod' at position 4: …",
      position: 4,
    });
    expect(selectorProblemOf({ code: "x", message: "m", fields: { name: ["required"] } })).toBeNull();
  });
});

it("waits for the server without a flash of errors", async () => {
  let answer: (value: Response) => void = () => {};
  fetchMock.mockReturnValue(new Promise<Response>((resolve) => (answer = resolve)));
  renderWith(<Harness initial="all" />);
  act(() => vi.advanceTimersByTime(SELECTOR_DEBOUNCE_MS + 10));
  expect(await screen.findByText("Checking the selector…")).toBeInTheDocument();
  answer(json(200, { count: 1, results: [{ id: "x", name: "only" }] }));
  await waitFor(() => expect(screen.getByText("1 target selected")).toBeInTheDocument());
});
