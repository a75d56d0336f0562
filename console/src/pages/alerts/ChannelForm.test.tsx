import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer, answers, validationError } from "../../test/answers";
import { renderWith } from "../../test/render";
import { ChannelDialog, channelBody } from "./ChannelForm";
import type { Channel } from "./common";

afterEach(() => vi.restoreAllMocks());

const SECRET = "whsec-correct-horse";

const hook: Channel = {
  id: "ch1",
  name: "ops-hook",
  description: "",
  kind: "webhook",
  url: "https://hooks.example.com/ops?token=abc",
  secret_set: true,
  recipients: [],
  enabled: true,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

function body(spy: ReturnType<typeof vi.fn>, call = 0) {
  return (spy.mock.calls[call] as unknown as [string, { body: Record<string, unknown> }])[1].body;
}

describe("the channel form", () => {
  it("sends a webhook's secret once, clears it after a refusal and shows errors at their fields", async () => {
    const post = answers(() => answer(400, validationError({ name: ["A channel with this name exists."] })));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    renderWith(<ChannelDialog onClose={() => {}} onSaved={() => {}} />, { role: "manager" });

    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "ops-hook" } });
    fireEvent.change(screen.getByLabelText(/^URL/), { target: { value: "http://127.0.0.1:8080/hook" } });
    const secret = screen.getByLabelText(/^Signing secret/) as HTMLInputElement;
    expect(secret).toHaveAttribute("type", "password");
    fireEvent.change(secret, { target: { value: SECRET } });
    fireEvent.click(screen.getByText("Create the channel"));

    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(body(post)).toEqual({
      name: "ops-hook",
      description: "",
      kind: "webhook",
      enabled: true,
      url: "http://127.0.0.1:8080/hook",
      secret: SECRET,
    });
    expect(await screen.findByText("The secret was cleared from the form: enter it again.")).toBeInTheDocument();
    expect(screen.getByLabelText(/^Signing secret/)).toHaveValue("");
    expect(screen.getByLabelText(/^Name/)).toHaveAccessibleDescription("A channel with this name exists.");
    expect(document.body.textContent).not.toContain(SECRET);
  }, 60_000);

  it("edits a webhook without sending a secret unless a new one is typed", async () => {
    const saved = vi.fn();
    const patch = answers(() => answer(200, hook));
    vi.spyOn(api, "PATCH").mockImplementation(patch as never);
    renderWith(<ChannelDialog channel={hook} onClose={() => {}} onSaved={saved} />, { role: "manager" });

    const secret = screen.getByLabelText(/^New signing secret/) as HTMLInputElement;
    expect(secret).toHaveValue(""); // never pre-filled
    expect(secret).toHaveAccessibleDescription(/A secret is set\. Leave this empty to keep it/);
    fireEvent.change(screen.getByLabelText(/^Description/), { target: { value: "chat" } });
    fireEvent.click(screen.getByText("Save the channel"));

    await waitFor(() => expect(saved).toHaveBeenCalled());
    expect(body(patch)).not.toHaveProperty("secret");
    expect(body(patch)).toMatchObject({ description: "chat", url: hook.url });
  }, 60_000);

  it("sends an email channel's recipients as a list and names the address a refusal is about", () => {
    const values = {
      name: " ops-mail ",
      description: "",
      kind: "email" as const,
      url: "ignored",
      secret: "ignored",
      recipients: "ops@example.com,\n  oncall@example.com ; \n",
      enabled: false,
    };
    expect(channelBody(values)).toEqual({
      name: "ops-mail",
      description: "",
      kind: "email",
      enabled: false,
      recipients: ["ops@example.com", "oncall@example.com"],
    });
  });
});
