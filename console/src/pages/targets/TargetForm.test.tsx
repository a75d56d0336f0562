import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer, answers, validationError } from "../../test/answers";
import { renderWith } from "../../test/render";
import { TargetForm, type TargetDetail } from "./TargetForm";

afterEach(() => vi.restoreAllMocks());

// typing key by key into a form this large is slow on a busy machine: set the value at once
const fill = (element: HTMLElement, value: string) => fireEvent.change(element, { target: { value } });

const HOST = "Method 1 address (host name or IP)";

function postBody(spy: ReturnType<typeof vi.fn>, call = 0) {
  return (spy.mock.calls[call] as unknown as [string, { body: Record<string, unknown> }])[1].body;
}

describe("TargetForm (new)", () => {
  it("shows the API's field errors at their fields, dotted paths included", async () => {
    const post = answers(() =>
      answer(
        400,
        validationError({
          name: ["Ensure this field has no more than 100 characters."],
          "connection_methods.0.host": ["Enter an IP address or a valid host name."],
          "labels.bad key": ["Use 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit."],
          "tags.0": ["Not a valid tag."],
        }),
      ),
    );
    vi.spyOn(api, "POST").mockImplementation(post as never);
    const user = userEvent.setup({ delay: null });
    renderWith(<TargetForm groups={[]} />, { role: "manager", path: "/targets/new" });

    fill(screen.getByLabelText(/^Name/), "web-01");
    fill(screen.getByLabelText(new RegExp(`^${HOST.replace(/[()]/g, "\\$&")}`)), "bad host!");
    await user.click(screen.getByText("Add a label").closest("button")!);
    fill(screen.getByLabelText("Label 1 key"), "bad key");
    await user.click(screen.getByText("Create target").closest("button")!);

    const host = await screen.findByLabelText(/Method 1 address/);
    expect(host).toHaveAccessibleDescription("Enter an IP address or a valid host name.");
    expect(host).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText(/^Name/)).toHaveAccessibleDescription(
      "Ensure this field has no more than 100 characters.",
    );
    expect(screen.getByLabelText("Label 1 key")).toHaveAccessibleDescription(/starting with a letter/);
    // shown at their fields, not repeated as a list in the alert
    expect(screen.getByText("Please check the form").closest("[role=alert]")).not.toHaveTextContent(
      "connection_methods.0.host",
    );
    // the target and its methods went in one request
    expect(post).toHaveBeenCalledTimes(1);
    expect(postBody(post)).toMatchObject({
      name: "web-01",
      labels: { "bad key": "" },
      connection_methods: [{ protocol: "ssh", host: "bad host!", is_primary: true }],
    });
  }, 60_000);

  it("sends the labels edited as key/value rows, and refuses a key given twice before asking", async () => {
    const post = answers(() => answer(201, { id: "7d4f0b52-4c7c-4b5c-9f0e-1d2b3c4d5e6f", name: "db-01" }));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    const user = userEvent.setup({ delay: null });
    renderWith(<TargetForm groups={[]} />, { role: "manager", path: "/targets/new" });

    fill(screen.getByLabelText(/^Name/), "db-01");
    await user.click(screen.getByLabelText("Remove method 1"));
    await user.click(screen.getByText("Add a label").closest("button")!);
    fill(screen.getByLabelText("Label 1 key"), "role");
    fill(screen.getByLabelText("Label 1 value"), "db");
    await user.click(screen.getByText("Add a label").closest("button")!);
    fill(screen.getByLabelText("Label 2 key"), "role");
    fill(screen.getByLabelText("Label 2 value"), "cache");
    await user.click(screen.getByText("Create target").closest("button")!);

    expect(screen.getByLabelText("Label 2 key")).toHaveAccessibleDescription(/used twice/);
    expect(post).not.toHaveBeenCalled();

    await user.click(screen.getByLabelText("Remove label 2 (role)"));
    await user.click(screen.getByText("Add a label").closest("button")!);
    fill(screen.getByLabelText("Label 2 key"), "tier");
    fill(screen.getByLabelText("Label 2 value"), "1");
    await user.click(screen.getByText("Create target").closest("button")!);

    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(postBody(post)).toMatchObject({ labels: { role: "db", tier: "1" }, connection_methods: [] });
  }, 60_000);
});

describe("TargetForm (edit)", () => {
  const target: TargetDetail = {
    id: "11111111-2222-3333-4444-555555555555",
    name: "web-01",
    environment: "production",
    os_family: "linux",
    status: "active",
    host_key_policy: "strict",
    tags: ["web"],
    labels: { role: "frontend" },
    connection_methods: [
      {
        id: "aaaaaaaa-2222-3333-4444-555555555555",
        protocol: "ssh",
        host: "10.0.0.11",
        port: 22,
        username: "",
        credential: null,
        priority: 0,
        is_primary: true,
        winrm_scheme: "",
        winrm_transport: "",
        winrm_validate_cert: true,
        created_at: "2026-01-01T00:00:00Z",
        updated_at: "2026-01-01T00:00:00Z",
      },
    ],
    health: { status: "unknown", checked_at: null, latency_ms: null, message: "" },
    created_by_id: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  } as TargetDetail;

  it("says plainly what was saved when a method is refused, and keeps its errors at its fields", async () => {
    const patch = answers(() => answer(200, target));
    const post = answers(() => answer(400, validationError({ credential: ["No credential with this id or name."] })));
    vi.spyOn(api, "PATCH").mockImplementation(patch as never);
    vi.spyOn(api, "POST").mockImplementation(post as never);
    const user = userEvent.setup({ delay: null });
    renderWith(<TargetForm target={target} groups={[]} />, { role: "manager", path: `/targets/${target.id}/edit` });

    // the existing method is untouched: only the new one is sent
    await user.click(screen.getByText("Add a connection method").closest("button")!);
    fill(screen.getByLabelText(/Method 2 address/), "10.0.0.12");
    fill(screen.getByLabelText(/Method 2 credential/), "nope");
    await user.click(screen.getByText("Save changes").closest("button")!);

    expect(await screen.findByText(/The target's details were saved\. Adding method 2 was refused/)).toBeInTheDocument();
    expect(screen.getByLabelText(/Method 2 credential/)).toHaveAccessibleDescription(
      "No credential with this id or name.",
    );
    expect(patch).toHaveBeenCalledTimes(1); // the target's own fields
    expect(post).toHaveBeenCalledTimes(1);
    expect(postBody(post)).toMatchObject({ host: "10.0.0.12", credential: "nope", is_primary: false });
    // still on the form, with what the user typed
    expect(screen.getByText("Save changes").closest("button")!).toBeEnabled();
    expect(screen.getByLabelText(/Method 2 address/)).toHaveValue("10.0.0.12");
  }, 60_000);
});
