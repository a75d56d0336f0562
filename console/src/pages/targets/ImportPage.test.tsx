import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderWith } from "../../test/render";
import ImportPage from "./ImportPage";
import { flattenErrors, parseCsv, previewRows } from "./importing";

afterEach(() => vi.unstubAllGlobals());

const CSV = `name,environment,protocol,host,port
web-1,production,ssh,10.0.0.1,22
web-2,prod,ssh,"10.0.0.2",22
`;

function reply(status: number, body: unknown) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

describe("import dry run", () => {
  it("shows each row's outcome with the reason before anything is written, and imports only after a passing check", async () => {
    const fetch = vi
      .fn()
      .mockImplementationOnce(() =>
        reply(400, {
          error: {
            code: "import_failed",
            message: "1 of 2 rows are invalid; nothing was imported.",
            rows: [{ row: 2, errors: { environment: ['"prod" is not a valid choice.'] } }],
            request_id: "r1",
          },
        }),
      )
      .mockImplementationOnce(() => reply(200, { dry_run: true, valid_rows: 2, imported: 0 }))
      .mockImplementationOnce(() => reply(201, { imported: 2, ids: ["id-1", "id-2"] }));
    vi.stubGlobal("fetch", fetch);
    renderWith(<ImportPage />, { role: "manager", path: "/targets/import" });

    fireEvent.change(screen.getByLabelText(/JSON list of targets|CSV with a header row/), { target: { value: CSV } });
    const importButton = () => screen.getByText(/^Import/, { selector: "button" });
    expect(importButton()).toBeDisabled(); // nothing imports before a dry run passes
    fireEvent.click(screen.getByText("Check (dry run)"));

    const table = await screen.findByRole("table", { name: "What each row would do" });
    const rows = within(table).getAllByRole("row");
    expect(rows[1]).toHaveTextContent("web-1");
    expect(rows[1]).toHaveTextContent("Valid (not imported: other rows are refused)");
    expect(rows[2]).toHaveTextContent("web-2");
    expect(rows[2]).toHaveTextContent("Refused");
    expect(rows[2]).toHaveTextContent('environment: "prod" is not a valid choice.');
    expect(screen.getByText(/Dry run refused/)).toBeInTheDocument();
    expect(importButton()).toBeDisabled();
    expect(fetch.mock.calls[0][0]).toBe("/api/v1/targets/import/?dry_run=true");
    expect(fetch.mock.calls[0][1].headers["Content-Type"]).toMatch(/^text\/csv/);

    fireEvent.change(screen.getByLabelText("CSV with a header row"), { target: { value: CSV.replace(",prod,", ",production,") } });
    // the old result is for another text: gone, and import waits for a new check
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
    fireEvent.click(screen.getByText("Check (dry run)"));
    expect(await screen.findByText(/Dry run passed: nothing was written/)).toBeInTheDocument();
    expect(screen.getAllByText("Would be created")).toHaveLength(2);

    fireEvent.click(screen.getByText("Import 2 targets"));
    expect(await screen.findByText("Imported 2 targets")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "web-1" })).toHaveAttribute("href", "/targets/id-1");
    expect(fetch.mock.calls[2][0]).toBe("/api/v1/targets/import/");
    expect(fetch.mock.calls[2][1].body).toContain("web-2,production");
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(3));
  }, 60_000);
});

describe("import helpers", () => {
  it("reads quoted CSV cells and previews names and addresses", () => {
    expect(parseCsv('a,b\n"x, y","say ""hi"""\n')).toEqual([
      ["a", "b"],
      ["x, y", 'say "hi"'],
    ]);
    expect(previewRows(CSV, "csv")).toEqual([
      { row: 1, name: "web-1", address: "10.0.0.1:22" },
      { row: 2, name: "web-2", address: "10.0.0.2:22" },
    ]);
  });
  it("flattens nested row errors to dotted paths", () => {
    expect(flattenErrors({ connection_methods: [{}, { host: ["bad"] }], labels: { "x y": ["no"] } })).toEqual({
      "connection_methods.1.host": ["bad"],
      "labels.x y": ["no"],
    });
  });
});
