import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer, answers, validationError } from "../../test/answers";
import { renderWith } from "../../test/render";
import { CredentialDialog, RotateDialog, type Credential } from "./CredentialForms";

afterEach(() => vi.restoreAllMocks());

const SECRET = "correct horse battery staple";

const credential = {
  id: "c1",
  name: "ops-pass",
  description: "",
  kind: "password",
  username: "ops",
  key_type: "",
  key_fingerprint: "",
  allowed_targets: "env=production",
  allowed_hosts: ["10.0.0.0/16"],
  attach_roles: ["manager"],
  host_key_policy: "strict",
  secret_set_at: "2026-01-01T00:00:00Z",
  secret_set_by: { id: null, name: "admin" },
  used_by: 2,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
} as Credential;

function body(spy: ReturnType<typeof vi.fn>, call = 0) {
  return (spy.mock.calls[call] as unknown as [string, { body: Record<string, unknown> }])[1].body;
}

describe("credential forms", () => {
  it("sends the secret once and clears it from the form after a refusal, errors at their fields", async () => {
    const post = answers(() => answer(400, validationError({ name: ["credential with this name already exists."] })));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    renderWith(<CredentialDialog onClose={() => {}} onSaved={() => {}} />, { role: "admin" });

    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "ops-pass" } });
    fireEvent.mouseDown(screen.getByRole("combobox", { name: /Kind/ }));
    fireEvent.click(await screen.findByRole("option", { name: "Password (SSH)" }));
    fireEvent.change(screen.getByLabelText(/^Username/), { target: { value: "ops" } });
    const password = screen.getByLabelText(/^Password/, { selector: "input" }) as HTMLInputElement;
    expect(password).toHaveAttribute("type", "password");
    fireEvent.change(password, { target: { value: SECRET } });
    fireEvent.click(screen.getByText("Create credential"));

    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(body(post)).toMatchObject({ name: "ops-pass", kind: "password", username: "ops", password: SECRET });
    expect(await screen.findByText("The secret was cleared from the form: enter it again.")).toBeInTheDocument();
    expect(screen.getByLabelText(/^Password/, { selector: "input" })).toHaveValue("");
    expect(screen.getByLabelText(/^Name/)).toHaveAccessibleDescription("credential with this name already exists.");
    expect(document.body.textContent).not.toContain(SECRET);
  }, 60_000);

  it("edits name and scope without any secret field, and shows the scope it has", () => {
    renderWith(<CredentialDialog credential={credential} onClose={() => {}} onSaved={() => {}} />, { role: "admin" });
    expect(screen.queryByLabelText(/Password/, { selector: "input" })).not.toBeInTheDocument();
    expect(document.querySelector('input[type="password"]')).toBeNull();
    expect(screen.getByLabelText(/Allowed targets/)).toHaveValue("env=production");
    expect(screen.getByLabelText(/Allowed hosts/)).toHaveValue("10.0.0.0/16");
    expect(screen.getByLabelText("manager")).toBeChecked();
  });

  it("rotates: the new secret is sent and cleared after success", async () => {
    let resolve: () => void = () => {};
    const saved = new Promise<void>((done) => (resolve = done));
    const patch = answers(() => answer(200, credential));
    vi.spyOn(api, "PATCH").mockImplementation(patch as never);
    renderWith(<RotateDialog credential={credential} onClose={() => {}} onSaved={() => resolve()} />, { role: "admin" });

    const input = screen.getByLabelText(/^New password/);
    expect(input).toHaveValue(""); // never pre-filled
    fireEvent.change(input, { target: { value: SECRET } });
    fireEvent.click(screen.getByText("Replace the secret"));
    await saved;
    expect(body(patch)).toEqual({ password: SECRET });
    await waitFor(() => expect(screen.getByLabelText(/^New password/)).toHaveValue(""));
  }, 60_000);
});
