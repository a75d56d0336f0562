import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer, answers, validationError } from "../../test/answers";
import { renderWith } from "../../test/render";
import { TokensSection } from "./TokensSection";

afterEach(() => vi.restoreAllMocks());

const VALUE = "oct_abcdef123456_s3cr3t-token-value";
const token = {
  id: "k1",
  name: "backup script",
  prefix: "abcdef123456",
  user: "00000000-0000-0000-0000-000000000001",
  username: "viewer-user",
  created_at: "2026-01-01T00:00:00Z",
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
  is_active: true,
};
const list = (results: unknown[]) => ({ count: results.length, next: null, previous: null, results });

describe("my API tokens", () => {
  it("shows a new token's value once: closing the dialog drops it, reopening shows none", async () => {
    const get = answers(
      () => answer(200, list([])),
      () => answer(200, list([token])),
    );
    vi.spyOn(api, "GET").mockImplementation(get as never);
    const post = vi.fn(() => answer(201, { ...token, token: VALUE }));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    renderWith(<TokensSection />, { role: "viewer" });

    expect(await screen.findByText(/You have no active API tokens/)).toBeInTheDocument();
    // only my own tokens are asked for (an admin would see everyone's otherwise)
    expect((get.mock.calls[0] as unknown as [string, { params: { query: { user: string } } }])[1].params.query.user).toBe(token.user);

    fireEvent.click(screen.getByRole("button", { name: "New token" }));
    await screen.findByRole("dialog", { name: "New API token" });
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "backup script" } });
    fireEvent.click(screen.getByRole("button", { name: "Create token" }));

    const shown = await screen.findByRole("dialog", { name: "Token backup script created" });
    expect(screen.queryByRole("dialog", { name: "New API token" })).not.toBeInTheDocument();
    expect(screen.getByLabelText("Token")).toHaveValue(VALUE);
    expect(screen.getByLabelText("Token")).toHaveAttribute("readonly");
    expect(shown).toHaveTextContent("shown only this once");
    expect(screen.getByRole("button", { name: "Copy" })).toBeInTheDocument();
    expect((post.mock.calls[0] as unknown as [string, { body: { name: string } }])[1].body.name).toBe("backup script");

    fireEvent.click(screen.getByRole("button", { name: "Done, I have copied it" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    // the list shows the token by name and prefix, never its value
    expect(await screen.findByRole("cell", { name: "backup script" })).toBeInTheDocument();
    expect(document.body.textContent).not.toContain(VALUE);
    expect(screen.getByText("oct_abcdef123456_…")).toBeInTheDocument();

    fireEvent.click(screen.getByRole("button", { name: "New token" }));
    await screen.findByRole("dialog", { name: "New API token" });
    expect(screen.queryByLabelText("Token")).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain(VALUE);
  });

  it("copies the value to the clipboard", async () => {
    vi.spyOn(api, "GET").mockImplementation((() => answer(200, list([]))) as never);
    vi.spyOn(api, "POST").mockImplementation((() => answer(201, { ...token, token: VALUE })) as never);
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    renderWith(<TokensSection />, { role: "viewer" });
    fireEvent.click(await screen.findByRole("button", { name: "New token" }));
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "ci" } });
    fireEvent.click(screen.getByRole("button", { name: "Create token" }));
    fireEvent.click(await screen.findByRole("button", { name: "Copy" }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(VALUE));
    expect(await screen.findByText("Copied to the clipboard.")).toBeInTheDocument();
  });

  it("shows a refused name at its field", async () => {
    vi.spyOn(api, "GET").mockImplementation((() => answer(200, list([]))) as never);
    vi.spyOn(api, "POST").mockImplementation((() => answer(400, validationError({ name: ["You already have an active token with this name."] }))) as never);
    renderWith(<TokensSection />, { role: "viewer" });
    fireEvent.click(await screen.findByRole("button", { name: "New token" }));
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "ci" } });
    fireEvent.click(screen.getByRole("button", { name: "Create token" }));
    await waitFor(() => expect(screen.getByLabelText(/^Name/)).toHaveAccessibleDescription("You already have an active token with this name."));
    expect(screen.queryByLabelText("Token")).not.toBeInTheDocument();
  });

  it("revokes a token after a confirmation", async () => {
    const get = answers(
      () => answer(200, list([token])),
      () => answer(200, list([])),
    );
    vi.spyOn(api, "GET").mockImplementation(get as never);
    const del = vi.fn(() => answer(204, null));
    vi.spyOn(api, "DELETE").mockImplementation(del as never);
    renderWith(<TokensSection />, { role: "viewer" });
    fireEvent.click(await screen.findByRole("button", { name: "Revoke backup script" }));
    const dialog = await screen.findByRole("dialog", { name: "Revoke the token backup script?" });
    expect(del).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(dialog).not.toBeInTheDocument());
    expect(del).toHaveBeenCalledTimes(1);
    expect(await screen.findByText("The token backup script was revoked.")).toBeInTheDocument();
  });
});
