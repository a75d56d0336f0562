import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { renderWith } from "../../test/render";
import { MASK, parameterBody, parameterDraft, type FieldErrors, type ParameterDraft } from "./model";
import { ParametersEditor } from "./ParametersEditor";

let latest: ParameterDraft[] = [];
const record = (parameters: ParameterDraft[]) => {
  latest = parameters;
};

function Harness({ initial, errors }: { initial: ParameterDraft[]; errors?: FieldErrors }) {
  const [parameters, setParameters] = useState(initial);
  const change = (next: ParameterDraft[]) => {
    record(next);
    setParameters(next);
  };
  return <ParametersEditor parameters={parameters} onChange={change} errors={errors} />;
}

describe("ParametersEditor", { timeout: 30_000 }, () => {
  it("shows a choice parameter's choices and the API's error at parameters.N.choices", () => {
    const channel = parameterDraft({ name: "channel", type: "choice", choices: ["stable", "stable"] });
    renderWith(<Harness initial={[channel]} errors={{ "parameters.0.choices": ["Choice 2 repeats an earlier choice."] }} />);
    const choices = screen.getByRole("textbox", { name: "Choices" });
    expect(choices).toHaveValue("stable\nstable");
    expect(choices).toHaveAccessibleDescription("Choice 2 repeats an earlier choice.");
    expect(choices).toHaveAttribute("aria-invalid", "true");
  });

  it("offers the options of the chosen type", async () => {
    const user = userEvent.setup({ delay: null });
    renderWith(<Harness initial={[]} />);
    await user.click(screen.getByRole("button", { name: "Add parameter" }));
    const card = screen.getByRole("region", { name: "Parameter 1" });
    expect(within(card).getByRole("textbox", { name: "Pattern" })).toBeInTheDocument();
    await user.click(within(card).getByRole("combobox", { name: "Type" }));
    await user.click(screen.getByRole("option", { name: "Integer" }));
    expect(within(card).queryByRole("textbox", { name: "Pattern" })).not.toBeInTheDocument();
    expect(within(card).getByRole("spinbutton", { name: "Minimum" })).toBeInTheDocument();
    expect(within(card).getByRole("spinbutton", { name: "Maximum" })).toBeInTheDocument();
    await user.type(within(card).getByRole("textbox", { name: /^Name/ }), "batch");
    await user.type(within(card).getByRole("spinbutton", { name: "Maximum" }), "100");
    await user.type(within(card).getByRole("spinbutton", { name: "Default" }), "10");
    expect(parameterBody(latest[0])).toEqual({ name: "batch", type: "integer", required: true, maximum: 100, default: 10 });
  });

  it("never shows a stored secret default, and keeps it by sending the mask back", async () => {
    const user = userEvent.setup({ delay: null });
    const token = parameterDraft({ name: "token", type: "secret", default: MASK });
    record([token]);
    renderWith(<Harness initial={[token]} />);
    expect(screen.getByRole("radio", { name: "Keep the stored default" })).toBeChecked();
    expect(document.querySelector("input[type=password]")).toBeNull();
    expect(screen.queryByDisplayValue(MASK)).not.toBeInTheDocument();
    expect(parameterBody(latest[0]).default).toBe(MASK);

    await user.click(screen.getByRole("radio", { name: "Set a new default" }));
    await user.type(screen.getByLabelText("New default"), "hunter2");
    expect(parameterBody(latest[0]).default).toBe("hunter2");

    await user.click(screen.getByRole("radio", { name: "No default" }));
    expect(parameterBody(latest[0])).not.toHaveProperty("default");
  });

  it("warns that a renamed secret cannot keep its stored default, and does not send the mask", async () => {
    const user = userEvent.setup({ delay: null });
    renderWith(<Harness initial={[parameterDraft({ name: "token", type: "secret", default: MASK })]} />);
    await user.type(screen.getByRole("textbox", { name: /^Name/ }), "2");
    expect(screen.getByText(/Renamed from token/)).toBeInTheDocument();
    expect(parameterBody(latest[0])).not.toHaveProperty("default");
  });

  it("shows a duplicate name error at the name", () => {
    renderWith(
      <Harness
        initial={[parameterDraft({ name: "v", type: "string" }), parameterDraft({ name: "v", type: "string" })]}
        errors={{ "parameters.1.name": ["Another parameter is already named 'v'."] }}
      />,
    );
    const second = screen.getByRole("region", { name: "Parameter 2: v" });
    expect(within(second).getByRole("textbox", { name: /^Name/ })).toHaveAccessibleDescription("Another parameter is already named 'v'.");
  });
});
