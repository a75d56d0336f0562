import { screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { renderWith } from "../../test/render";
import JobDetailPage from "./JobDetailPage";
import { Route, Routes } from "react-router";

const job = {
  id: "j1",
  name: "deploy",
  description: "Ship it",
  labels: { team: "web" },
  default_selector: "tag:web",
  policy: {},
  parameters: [{ name: "token", type: "secret", default: "********" }],
  steps: [{ name: "one", kind: "command", command: "echo {{ token }}", timeout_seconds: 600, continue_on_error: false, os_family: "any", env: {}, workdir: "" }],
  version: 3,
  owner: { id: null, name: "alice" },
  archived: false,
  archived_at: null as string | null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};
let current = job;

vi.mock("./queries", () => ({
  useJob: () => ({ isPending: false, isError: false, data: current }),
  useJobAction: () => ({ mutateAsync: vi.fn(), isPending: false, isError: false, reset: vi.fn(), error: null }),
  usePlan: () => ({ mutateAsync: vi.fn(), isPending: false, isError: false, data: undefined }),
}));

const page = (role: "viewer" | "operator" | "manager") =>
  renderWith(
    <Routes>
      <Route path="/jobs/:id" element={<JobDetailPage />} />
    </Routes>,
    { role, path: "/jobs/j1" },
  );

describe("JobDetailPage", { timeout: 30_000 }, () => {
  it("lets a viewer read and export, with every change disabled and its reason", () => {
    current = job;
    page("viewer");
    expect(screen.getByRole("heading", { name: "deploy" })).toBeInTheDocument();
    for (const name of ["Launch", "Edit", "Clone", "Archive", "Delete", "Show the plan"]) {
      expect(screen.getByRole("button", { name })).toBeDisabled();
    }
    expect(screen.getAllByLabelText(/needs the (operator|manager) role/).length).toBeGreaterThanOrEqual(6);
    expect(screen.getByRole("button", { name: "Export" })).toBeEnabled();
    // a stored secret default is never shown
    expect(screen.queryByText("********")).not.toBeInTheDocument();
    expect(screen.getByText("stored (hidden)")).toBeInTheDocument();
  });

  it("lets an operator launch and plan, not change the job", () => {
    current = job;
    page("operator");
    expect(screen.getByRole("link", { name: "Launch" })).toHaveAttribute("href", "/jobs/j1/launch");
    expect(screen.getByRole("button", { name: "Show the plan" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Edit" })).toBeDisabled();
  });

  it("offers a manager Unarchive on an archived job, and no launch", () => {
    current = { ...job, archived: true, archived_at: "2026-01-02T00:00:00Z" };
    page("manager");
    expect(screen.getByRole("button", { name: "Unarchive" })).toBeEnabled();
    expect(screen.queryByRole("button", { name: "Archive" })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Launch" })).toBeDisabled();
  });
});
