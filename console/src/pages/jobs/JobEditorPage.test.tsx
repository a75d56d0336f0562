import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { renderWith } from "../../test/render";
import { draftOf, type Job } from "./model";
import { JobForm } from "./JobEditorPage";

const mutateAsync = vi.fn();
vi.mock("./queries", () => ({
  useSaveJob: () => ({ mutateAsync, isPending: false }),
}));

const job = {
  name: "deploy",
  description: "",
  labels: {},
  default_selector: "",
  policy: {},
  parameters: [{ name: "channel", type: "choice", choices: ["a"] }],
  steps: [
    { name: "one", kind: "command", command: "echo 1", timeout_seconds: 600, continue_on_error: false, os_family: "any", env: {}, workdir: "" },
    { name: "two", kind: "command", command: "echo {{ nope }}", timeout_seconds: 600, continue_on_error: false, os_family: "any", env: {}, workdir: "" },
  ],
} as unknown as Job;

describe("JobForm", { timeout: 60_000 }, () => {
  beforeEach(() => {
    mutateAsync.mockReset();
    window.scrollTo = vi.fn() as unknown as typeof window.scrollTo;
  });

  it("shows each field error at its input, and the rest in the alert", async () => {
    const user = userEvent.setup({ delay: null });
    mutateAsync.mockRejectedValue(
      new ApiError(400, {
        code: "validation_error",
        message: "steps.1.command: Refers to undeclared parameter(s): nope.",
        fields: {
          "steps.1.command": ["Refers to undeclared parameter(s): nope."],
          "parameters.0.choices": ["Must not be empty."],
          "policy.max_parallel": ["Ensure this value is less than or equal to 10000."],
          "steps.1.surprise": ["Unknown field."],
        },
      }),
    );
    renderWith(<JobForm initial={draftOf(job)} jobId="j1" />, { role: "manager" });
    await user.click(screen.getAllByRole("button", { name: "Save as a new version" })[0]);

    const step = screen.getByRole("region", { name: "Step 2: two" });
    expect(within(step).getByRole("textbox", { name: "Command" })).toHaveAccessibleDescription(
      "Refers to undeclared parameter(s): nope.",
    );
    expect(screen.getByRole("textbox", { name: "Choices" })).toHaveAccessibleDescription("Must not be empty.");
    expect(screen.getByRole("spinbutton", { name: "Targets at once" })).toHaveAccessibleDescription(
      "Ensure this value is less than or equal to 10000.",
    );
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("steps.1.surprise: Unknown field.");
    // only the path with no input of its own is listed
    expect(within(alert).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "steps.1.surprise: Unknown field.",
    ]);
  });

  it("sends the whole definition with the change message", async () => {
    const user = userEvent.setup({ delay: null });
    mutateAsync.mockResolvedValue({ id: "j1" });
    renderWith(<JobForm initial={draftOf(job)} jobId="j1" />, { role: "manager" });
    await user.type(screen.getByRole("textbox", { name: "Change message" }), "tidy up");
    await user.click(screen.getAllByRole("button", { name: "Save as a new version" })[0]);
    expect(mutateAsync).toHaveBeenCalledTimes(1);
    const { body, message } = mutateAsync.mock.calls[0][0];
    expect(message).toBe("tidy up");
    expect(body.steps.map((s: { name: string }) => s.name)).toEqual(["one", "two"]);
    expect(body.policy.max_parallel).toBe(20);
    expect(body.parameters[0]).toEqual({ name: "channel", type: "choice", required: true, choices: ["a"] });
  });

  it("is read-only, with the reason, for a role that may not change jobs", () => {
    renderWith(<JobForm initial={draftOf(job)} jobId="j1" />, { role: "operator" });
    expect(screen.getAllByRole("button", { name: "Save as a new version" })[0]).toBeDisabled();
    expect(screen.getAllByLabelText(/Changing jobs needs the manager role/)[0]).toBeInTheDocument();
    expect(screen.getAllByRole("textbox", { name: /^Name/ })[0]).toBeDisabled();
  });
});
