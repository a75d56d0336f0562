import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWith } from "../../test/render";
import { ChangesDiff } from "./ChangesDiff";

describe("ChangesDiff", { timeout: 30_000 }, () => {
  it("shows each field's before and after side by side, marked by sign and word", () => {
    renderWith(<ChangesDiff changes={{ username: { from: "deploy", to: "deployer" }, description: { from: "", to: "rotated" } }} />);
    const table = screen.getByRole("table", { name: "Changes" });
    const changed = within(table).getByRole("row", { name: "username changed" });
    const cells = within(changed).getAllByRole("cell");
    expect(cells[1]).toHaveTextContent("−deploy");
    expect(cells[2]).toHaveTextContent("+deployer");
    const added = within(table).getByRole("row", { name: "description added" });
    expect(within(added).getAllByRole("cell")[1]).toHaveTextContent("—");
    expect(within(added).getAllByRole("cell")[2]).toHaveTextContent("+rotated");
  });

  it("shows a masked secret as masked and says it was never recorded", () => {
    renderWith(<ChangesDiff changes={{ password: { from: "********", to: "********" } }} />);
    const row = screen.getByRole("row", { name: "password changed" });
    expect(row).toHaveTextContent("********");
    expect(within(row).getAllByText("(secret: never recorded)")).toHaveLength(2);
  });

  it("lists a job's added and removed steps in words", () => {
    renderWith(<ChangesDiff changes={{ steps: { added: ["migrate"], removed: ["old"], changed: {} } }} />);
    expect(screen.getByRole("row", { name: "steps.migrate added" })).toHaveTextContent("Added");
    expect(screen.getByRole("row", { name: "steps.old removed" })).toHaveTextContent("Removed");
  });

  it("says so when the event changed no field", () => {
    renderWith(<ChangesDiff changes={{}} />);
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
    expect(screen.getByText(/recorded no field changes/)).toBeInTheDocument();
  });
});
