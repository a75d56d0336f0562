import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer, validationError } from "../../test/answers";
import { renderWith } from "../../test/render";
import type { AlertRule, Channel } from "./common";
import { RuleDialog, ruleBody } from "./RuleForm";

afterEach(() => vi.restoreAllMocks());

const channels = [
  { id: "c1", name: "ops-hook", kind: "webhook" },
  { id: "c2", name: "ops-mail", kind: "email" },
] as Channel[];

function body(spy: { mock: { calls: unknown[][] } }, call = 0) {
  return (spy.mock.calls[call] as unknown as [string, { body: Record<string, unknown> }])[1].body;
}

describe("the rule form", () => {
  it("names a job or a schedule on a new rule, and only channel and events on a change", () => {
    const values = { on: "schedule" as const, subject: { id: "s1", name: "nightly" }, channel: "ops-hook", events: ["missed"] };
    expect(ruleBody(values, false)).toEqual({ schedule: "s1", channel: "ops-hook", events: ["missed"] });
    expect(ruleBody({ ...values, on: "job", subject: { id: "j1", name: "backup" } }, false)).toEqual({
      job: "j1",
      channel: "ops-hook",
      events: ["missed"],
    });
    expect(ruleBody(values, true)).toEqual({ channel: "ops-hook", events: ["missed"] });
  });

  it("creates a rule on a job picked by name, and shows the server's refusal at the events", async () => {
    vi.spyOn(api, "GET").mockImplementation((() =>
      answer(200, { count: 1, results: [{ id: "j1", name: "backup" }] })) as never);
    const post = vi
      .fn()
      .mockImplementationOnce(() => answer(400, validationError({ "events.0": ['"test" is not a valid choice.'] })))
      .mockImplementation(() => answer(201, { id: "r1", job: "j1", schedule: null, subject_name: "backup", channel: "ops-mail", events: ["failed"] }));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    const saved = vi.fn();
    renderWith(<RuleDialog channels={channels} onClose={() => {}} onSaved={saved} />, { role: "manager" });

    // "missed" is for schedules only
    expect(screen.queryByLabelText(/^Missed/)).not.toBeInTheDocument();
    const job = screen.getByRole("combobox", { name: /^Job/ });
    fireEvent.change(job, { target: { value: "back" } });
    fireEvent.click(await screen.findByRole("option", { name: "backup" }, { timeout: 3000 }));
    fireEvent.mouseDown(screen.getByRole("combobox", { name: /^Channel/ }));
    fireEvent.click(within(screen.getByRole("listbox")).getByRole("option", { name: "ops-mail" }));
    fireEvent.click(screen.getByLabelText(/^Recovered/)); // off: failed stays
    fireEvent.click(screen.getByText("Create the rule"));

    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(body(post)).toEqual({ job: "j1", channel: "ops-mail", events: ["failed"] });
    expect(await screen.findByText('"test" is not a valid choice.')).toBeInTheDocument();
    fireEvent.click(screen.getByText("Create the rule"));
    await waitFor(() => expect(saved).toHaveBeenCalled());
  }, 60_000);

  it("keeps a rule's schedule fixed when editing and offers the missed event", () => {
    const rule = { id: "r1", job: null, schedule: "s1", subject_name: "nightly", channel: "ops-hook", events: ["missed"] } as unknown as AlertRule;
    renderWith(<RuleDialog rule={rule} channels={channels} onClose={() => {}} onSaved={() => {}} />, { role: "manager" });
    expect(screen.getByRole("combobox", { name: /^Schedule/ })).toBeDisabled();
    expect(screen.getByRole("combobox", { name: /^Schedule/ })).toHaveValue("nightly");
    expect(screen.getByLabelText(/^Missed/)).toBeChecked();
  });
});
