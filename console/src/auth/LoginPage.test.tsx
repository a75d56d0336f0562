import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { GatedButton } from "../components/Gated";
import { renderWith } from "../test/render";
import { safeNext } from "./LoginPage";

describe("safeNext", () => {
  it("keeps a path of the console, with its query", () => {
    expect(safeNext("/runs/5?state=failed")).toBe("/runs/5?state=failed");
  });
  it.each(["https://evil.example/", "//evil.example/", "/\\evil.example", "/api/v1/me/", "/admin/", null, ""])(
    "refuses %s (another site, or not a console page)",
    (next) => {
      expect(safeNext(next)).toBe("/");
    },
  );
});

describe("GatedButton", () => {
  it("is enabled for a role that may", () => {
    renderWith(<GatedButton needs="launch">Launch</GatedButton>, { role: "operator" });
    expect(screen.getByRole("button", { name: "Launch" })).toBeEnabled();
  });
  it("is disabled with the reason for a role that may not", () => {
    renderWith(<GatedButton needs="launch">Launch</GatedButton>, { role: "viewer" });
    expect(screen.getByRole("button", { name: "Launch" })).toBeDisabled();
    expect(screen.getByLabelText(/needs the operator role/)).toBeInTheDocument();
  });
});
