import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Routes, useLocation } from "react-router";
import { api } from "../api/client";
import { answer } from "../test/answers";
import { renderWith } from "../test/render";
import { CommandPalette } from "./CommandPalette";

afterEach(() => vi.restoreAllMocks());

const page = (results: unknown[]) => ({ count: results.length, next: null, previous: null, results });

function stubLists() {
  const get = vi.fn((path: string) => {
    switch (path) {
      case "/api/v1/targets/":
        return answer(200, page([{ id: "t1", name: "web-1", os_family: "linux", environment: "prod" }]));
      case "/api/v1/jobs/":
        return answer(200, page([{ id: "j1", name: "web deploy", version: 3, archived: false }]));
      case "/api/v1/runs/":
        return answer(200, page([{ id: "r1", job_name: "web deploy", status: "succeeded", created_at: "2026-01-01T00:00:00Z" }]));
      case "/api/v1/schedules/":
        return answer(403, { error: { code: "permission_denied", message: "no" } });
      default:
        return answer(404, {});
    }
  });
  vi.spyOn(api, "GET").mockImplementation(get as never);
  return get;
}

function Where() {
  return <div data-testid="where">{useLocation().pathname}</div>;
}

function renderPalette(onClose = vi.fn()) {
  renderWith(
    <>
      <CommandPalette open onClose={onClose} />
      <Routes>
        <Route path="*" element={<Where />} />
      </Routes>
    </>,
    { role: "viewer" },
  );
  return onClose;
}

describe("command palette", () => {
  it("searches every list by name, debounced, and opens the chosen match with the keyboard", async () => {
    const get = stubLists();
    const onClose = renderPalette();
    const box = screen.getByRole("combobox", { name: "Name to jump to" });
    expect(box).toHaveFocus();
    fireEvent.change(box, { target: { value: "w" } });
    fireEvent.change(box, { target: { value: "we" } });
    fireEvent.change(box, { target: { value: "web" } });
    const listbox = screen.getByRole("listbox", { name: "Matches" });
    expect(box).toHaveAttribute("aria-controls", listbox.id);
    await screen.findByRole("option", { name: /web-1/ });
    // one search of each list, for the last text only, with the search parameter
    expect(get).toHaveBeenCalledTimes(4);
    for (const call of get.mock.calls as unknown as [string, { params: { query: { search: string } } }][]) {
      expect(call[1].params.query.search).toBe("web");
    }
    const options = screen.getAllByRole("option");
    // a kind the server refused is left out; the others in order: target, job, run
    expect(options.map((o) => o.textContent)).toEqual([
      expect.stringContaining("web-1"),
      expect.stringContaining("v3"),
      expect.stringContaining("succeeded"),
    ]);
    expect(options[0]).toHaveAttribute("aria-selected", "true");
    expect(box).toHaveAttribute("aria-activedescendant", options[0].id);

    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(screen.getAllByRole("option")[1]).toHaveAttribute("aria-selected", "true");
    expect(box).toHaveAttribute("aria-activedescendant", options[1].id);
    fireEvent.keyDown(box, { key: "ArrowUp" });
    fireEvent.keyDown(box, { key: "ArrowUp" }); // wraps to the last
    expect(screen.getAllByRole("option")[2]).toHaveAttribute("aria-selected", "true");
    fireEvent.keyDown(box, { key: "Home" });
    fireEvent.keyDown(box, { key: "ArrowDown" });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onClose).toHaveBeenCalled();
    expect(screen.getByTestId("where")).toHaveTextContent("/jobs/j1");
  });

  it("lists the pages whose name matches, and says when nothing matches", async () => {
    vi.spyOn(api, "GET").mockImplementation((() => answer(200, page([]))) as never);
    renderPalette();
    const box = screen.getByRole("combobox", { name: "Name to jump to" });
    // before typing: the pages (People only for admins, Audit for admins and auditors)
    expect(screen.getByRole("option", { name: /Targets/ })).toBeInTheDocument();
    expect(screen.queryByRole("option", { name: /People/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("option", { name: /Audit/ })).not.toBeInTheDocument();
    fireEvent.change(box, { target: { value: "sched" } });
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(1));
    expect(screen.getByRole("option")).toHaveTextContent("Schedules");
    fireEvent.change(box, { target: { value: "zzz-nothing" } });
    expect(await screen.findByText(/Nothing is named like “zzz-nothing”/)).toBeInTheDocument();
    expect(screen.queryAllByRole("option")).toHaveLength(0);
  });
});
