import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { renderWith } from "../../test/render";
import { emptyStep, stepBody, type FieldErrors, type StepDraft } from "./model";
import { StepsEditor } from "./StepsEditor";

function Harness({ initial, errors }: { initial: StepDraft[]; errors?: FieldErrors }) {
  const [steps, setSteps] = useState(initial);
  return (
    <>
      <StepsEditor steps={steps} onChange={setSteps} errors={errors} />
      <output data-testid="order">{steps.map((s) => s.name).join(",")}</output>
    </>
  );
}

const two = () => [
  { ...emptyStep("command", "fetch"), command: "fetch-release" },
  { ...emptyStep("command", "restart"), command: "" },
];

describe("StepsEditor", { timeout: 30_000 }, () => {
  it("shows the API's error at steps.N.field, on that step only", () => {
    renderWith(<Harness initial={two()} errors={{ "steps.1.command": ["Required for a command step."] }} />);
    const second = screen.getByRole("region", { name: "Step 2: restart" });
    const command = within(second).getByRole("textbox", { name: "Command" });
    expect(command).toHaveAttribute("aria-invalid", "true");
    expect(command).toHaveAccessibleDescription("Required for a command step.");
    const first = screen.getByRole("region", { name: "Step 1: fetch" });
    expect(within(first).getByRole("textbox", { name: "Command" })).toHaveAttribute("aria-invalid", "false");
    expect(within(second).getByText("(has problems)")).toBeInTheDocument();
  });

  it("shows an environment variable's error under the step's environment", () => {
    const step = { ...emptyStep("command", "a"), command: "x" };
    renderWith(<Harness initial={[step]} errors={{ "steps.0.env": ["Not environment variable names: 1X"] }} />);
    expect(screen.getByText("Not environment variable names: 1X")).toBeInTheDocument();
  });

  it("moves a step down and up, and removes one", async () => {
    const user = userEvent.setup({ delay: null });
    renderWith(<Harness initial={two()} />);
    expect(screen.getByRole("button", { name: "Move step 1 up" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Move step 1 down" }));
    expect(screen.getByTestId("order")).toHaveTextContent("restart,fetch");
    await user.click(screen.getByRole("button", { name: "Move step 2 up" }));
    expect(screen.getByTestId("order")).toHaveTextContent("fetch,restart");
    await user.click(screen.getByRole("button", { name: "Remove step 1" }));
    expect(screen.getByTestId("order")).toHaveTextContent(/^restart$/);
  });

  it("adds each kind of step with that kind's fields", async () => {
    const user = userEvent.setup({ delay: null });
    renderWith(<Harness initial={[]} />);
    expect(screen.getByText(/needs at least one step/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Add script step" }));
    const script = screen.getByRole("region", { name: "Step 1: step-1" });
    expect(within(script).getByRole("textbox", { name: "Script" })).toBeInTheDocument();
    expect(within(script).getByRole("combobox", { name: "Interpreter" })).toHaveTextContent("bash");
    expect(within(script).queryByRole("textbox", { name: "Command" })).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Add upload step" }));
    const upload = screen.getByRole("region", { name: "Step 2: step-2" });
    expect(within(upload).getByRole("textbox", { name: "Destination path" })).toBeInTheDocument();
    expect(within(upload).getByRole("textbox", { name: "Mode" })).toBeInTheDocument();
    expect(within(upload).getByRole("textbox", { name: "Content" })).toBeInTheDocument();
  });

  it("sends only the fields of the step's kind, numbers as numbers", () => {
    const step: StepDraft = {
      ...emptyStep("upload", "conf"),
      command: "left over from a command step",
      path: "/etc/app.conf",
      content: "x",
      mode: "",
      timeout_seconds: "30",
      env: [{ key: "e", name: "A", value: "1" }],
    };
    expect(stepBody(step)).toEqual({
      name: "conf",
      kind: "upload",
      path: "/etc/app.conf",
      content: "x",
      timeout_seconds: 30,
      continue_on_error: false,
      os_family: "any",
      env: { A: "1" },
      workdir: "",
    });
    // not a number: sent as typed, so the API names the field
    expect(stepBody({ ...step, timeout_seconds: "ten" }).timeout_seconds).toBe("ten");
  });
});
