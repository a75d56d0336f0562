import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { answer } from "../../test/answers";
import { renderWith } from "../../test/render";
import ChannelsPage from "./ChannelsPage";

afterEach(() => vi.restoreAllMocks());

const hook = {
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

function failedTest() {
  return {
    delivered: false,
    delivery: {
      id: "d1",
      channel_name: "ops-hook",
      event: "test",
      status: "failed",
      attempts: 1,
      last_error: "POST to hooks.example.com: HTTP 503: maintenance",
      response_status: 503,
      response_excerpt: "maintenance",
      attempt_log: [],
    },
  };
}

describe("the channels page", () => {
  it("lists a webhook by its host only, and tells why a test notice did not arrive", async () => {
    vi.spyOn(api, "GET").mockImplementation((() => answer(200, { count: 1, results: [hook] })) as never);
    const post = vi.fn(() => answer(200, failedTest()));
    vi.spyOn(api, "POST").mockImplementation(post as never);
    renderWith(<ChannelsPage />, { role: "manager", path: "/alerts/channels" });

    const row = (await screen.findByRole("table", { name: "Notification channels" })).querySelector("tbody tr") as HTMLElement;
    expect(within(row).getByText("https://hooks.example.com")).toBeInTheDocument();
    expect(row.textContent).not.toContain("token=abc");
    fireEvent.click(within(row).getByRole("button", { name: "Send a test notice to ops-hook" }));

    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(await screen.findByText("The test notice did not reach ops-hook")).toBeInTheDocument();
    expect(screen.getByText(/HTTP 503: maintenance/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "See it in the delivery log" })).toHaveAttribute(
      "href",
      "/alerts/deliveries?channel=ops-hook",
    );
  }, 60_000);

  it("lets an operator read channels but not test or change them", async () => {
    vi.spyOn(api, "GET").mockImplementation((() => answer(200, { count: 1, results: [hook] })) as never);
    renderWith(<ChannelsPage />, { role: "operator", path: "/alerts/channels" });
    await screen.findByRole("table", { name: "Notification channels" });
    expect(screen.getByRole("button", { name: "New channel" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Send a test notice to ops-hook" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Edit ops-hook" })).toBeDisabled();
  }, 60_000);
});
