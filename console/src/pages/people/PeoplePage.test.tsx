import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer } from "../../test/answers";
import { renderWith } from "../../test/render";
import PeoplePage from "./PeoplePage";
import { ActiveDialog, ResetPasswordDialog, UserDialog, type User } from "./UserDialogs";

afterEach(() => vi.restoreAllMocks());

const dana = {
  id: "u2",
  username: "dana",
  email: "",
  first_name: "Dana",
  last_name: "",
  role: "operator",
  is_auditor: false,
  is_active: true,
  date_joined: "2026-01-01T00:00:00Z",
  last_login: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
} as User;

function body(spy: ReturnType<typeof vi.fn>) {
  return (spy.mock.calls[0] as unknown as [string, { body: Record<string, unknown> }])[1].body;
}

describe("people", () => {
  it("is for admins: other roles get the reason and no request", () => {
    const get = vi.spyOn(api, "GET");
    renderWith(<PeoplePage />, { role: "manager", path: "/people" });
    expect(screen.getByText(/Managing users and their roles is for admins only/)).toBeInTheDocument();
    expect(get).not.toHaveBeenCalled();
  });

  it("reads its filters from the URL", async () => {
    const get = vi.fn(() => answer(200, { count: 1, next: null, previous: null, results: [dana] }));
    vi.spyOn(api, "GET").mockImplementation(get as never);
    renderWith(<PeoplePage />, { role: "admin", path: "/people?search=da&role=operator&active=no" });
    expect(await screen.findByText("dana")).toBeInTheDocument();
    const query = (get.mock.calls[0] as unknown as [string, { params: { query: Record<string, unknown> } }])[1].params.query;
    expect(query).toMatchObject({ search: "da", role: "operator", is_active: false });
  });

  it("creates a user with a generated password, shown once", async () => {
    const post = vi.fn(() => answer(201, dana));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    const onSaved = vi.fn();
    renderWith(<UserDialog onClose={() => {}} onSaved={onSaved} />, { role: "admin" });
    fireEvent.change(screen.getByLabelText(/^Username/), { target: { value: "dana" } });
    fireEvent.click(screen.getByRole("button", { name: "Create user" }));
    const shown = await screen.findByLabelText("Password");
    const sent = body(post);
    expect(sent.username).toBe("dana");
    expect(String(sent.password)).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(shown).toHaveValue(String(sent.password));
    expect(onSaved).toHaveBeenCalled();
    expect(screen.getByText(/it is not shown again/)).toBeInTheDocument();
  });

  it("resets a password to a typed one, and shows a refusal at the field", async () => {
    const patch = vi.fn(() =>
      answer(400, { error: { code: "validation_error", message: "Invalid input.", fields: { password: ["This password is too common."] } } }),
    );
    vi.spyOn(api, "PATCH").mockImplementation(patch as never);
    renderWith(<ResetPasswordDialog user={dana} onClose={() => {}} onSaved={() => {}} />, { role: "admin" });
    fireEvent.click(screen.getByLabelText("Type a password"));
    fireEvent.change(screen.getByLabelText(/^New password/, { selector: "input" }), { target: { value: "password123" } });
    fireEvent.click(screen.getByRole("button", { name: "Reset password" }));
    await waitFor(() => expect(screen.getByLabelText(/^New password/, { selector: "input" })).toHaveAccessibleDescription("This password is too common."));
    expect(body(patch)).toEqual({ password: "password123" });
    // the typed password is dropped from the form after it was sent
    expect(screen.getByLabelText(/^New password/, { selector: "input" })).toHaveValue("");
  });

  it("shows the server's reason when the last admin cannot be deactivated", async () => {
    vi.spyOn(api, "PATCH").mockImplementation((() =>
      answer(409, { error: { code: "last_admin", message: "This is the last active admin: make another user an active admin first." } })) as never);
    const admin = { ...dana, role: "admin" } as User;
    renderWith(<ActiveDialog user={admin} onClose={() => {}} onSaved={() => {}} />, { role: "admin" });
    fireEvent.click(screen.getByRole("button", { name: "Deactivate" }));
    expect(await screen.findByText(/This is the last active admin/)).toBeInTheDocument();
    expect(screen.getByRole("dialog", { name: "Deactivate dana?" })).toBeInTheDocument();
  });
});
