import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderWith } from "../../test/render";
import { DiffView } from "./DiffView";

describe("DiffView", { timeout: 30_000 }, () => {
  it("marks added and removed lines by label and sign, and counts them", () => {
    renderWith(<DiffView before={["a", "b", "c"]} after={["a", "B", "c", "d"]} label="Changes" />);
    expect(screen.getByText("2 lines added, 1 removed.")).toBeInTheDocument();
    expect(screen.getAllByRole("row", { name: "removed line" })).toHaveLength(1);
    expect(screen.getAllByRole("row", { name: "added line" })).toHaveLength(2);
    expect(screen.getByRole("row", { name: "removed line" })).toHaveTextContent("2−b");
  });

  it("says when there is no difference", () => {
    renderWith(<DiffView before={["a"]} after={["a"]} label="Changes" />);
    expect(screen.getByText("No differences.")).toBeInTheDocument();
  });

  it("folds unchanged lines far from a change, and shows them on demand", async () => {
    const user = userEvent.setup({ delay: null });
    const before = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    const after = [...before.slice(0, 29), "last changed"];
    renderWith(<DiffView before={before} after={after} label="Changes" />);
    expect(screen.queryByText("line 0")).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Show 26 unchanged lines" }));
    expect(screen.getByText("line 0")).toBeInTheDocument();
  });
});
