import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";
import { api } from "../../api/client";
import { answer, validationError } from "../../test/answers";
import { renderWith } from "../../test/render";
import ScheduleEditorPage from "./ScheduleEditorPage";

const job = {
  id: "j1",
  name: "backup",
  default_selector: "tag:db",
  version: 2,
  archived: false,
  parameters: [{ name: "token", type: "secret", required: true }],
  policy: {},
  steps: [],
};

const gapItem = {
  at: "2027-03-28T01:00:00Z",
  local: "2027-03-28T03:00:00+02:00",
  utc_offset: "+02:00",
  abbreviation: "CEST",
  note: "02:30 does not exist on 2027-03-28 in Europe/Berlin (clocks go forward): fires at 03:00 CEST",
  dst_rule: "gap",
  wall_time: "2027-03-28T02:30",
};
const plainItem = {
  at: "2027-03-27T01:30:00Z",
  local: "2027-03-27T02:30:00+01:00",
  utc_offset: "+01:00",
  abbreviation: "CET",
  note: "",
  dst_rule: "",
  wall_time: "",
};

function stub(post: (path: string, body: Record<string, unknown>) => ReturnType<typeof answer>) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) =>
    path === "/api/v1/jobs/"
      ? answer(200, { count: 1, next: null, previous: null, results: [job] })
      : answer(200, job)) as never);
  return vi.spyOn(api, "POST").mockImplementation(((path: string, init: { body: Record<string, unknown> }) => post(path, init.body)) as never);
}

const editor = (role: "viewer" | "manager" = "manager") =>
  renderWith(
    <Routes>
      <Route path="/schedules/new" element={<ScheduleEditorPage />} />
      <Route path="/schedules/:id" element={<p>saved</p>} />
    </Routes>,
    { role, path: "/schedules/new?job=j1" },
  );

afterEach(() => vi.restoreAllMocks());

describe("ScheduleEditorPage", { timeout: 30_000 }, () => {
  it("previews the definition and shows the DST rule the server applied", async () => {
    const post = stub(() => answer(200, { timezone: "Europe/Berlin", items: [plainItem, gapItem] }));
    editor();
    const list = await screen.findByRole("list", { name: "Next firings" });
    expect(within(list).getByText(gapItem.note)).toBeInTheDocument();
    expect(within(list).getByText("Clocks go forward")).toBeInTheDocument();
    expect(within(list).getByText("Sun 28 Mar 2027, 03:00 CEST")).toBeInTheDocument();
    const [path, init] = post.mock.calls[0] as unknown as [string, { body: Record<string, unknown> }];
    expect(path).toBe("/api/v1/schedules/preview/");
    expect(init.body).toMatchObject({ kind: "cron", cron: "0 2 * * *", count: 10 });
  });

  it("says why there is no preview while the definition is refused", async () => {
    stub(() => answer(400, validationError({ cron: ["hour field '25': 25 is out of range 0-23"] })));
    editor();
    expect(await screen.findByText(/cron: hour field '25'/)).toBeInTheDocument();
  });

  it("shows the server's errors at their fields and drops the secret once sent", async () => {
    stub((path) =>
      path === "/api/v1/schedules/preview/"
        ? answer(200, { timezone: "UTC", items: [] })
        : answer(400, validationError({ cron: ["never fires"], "parameters.token": ["This parameter is required."] })),
    );
    editor();
    const token = await screen.findByLabelText("token");
    fireEvent.change(token, { target: { value: "s3cret" } });
    fireEvent.change(screen.getByRole("textbox", { name: "Name" }), { target: { value: "nightly" } });
    fireEvent.click(screen.getByRole("button", { name: "Create schedule" }));
    expect(await screen.findByText("never fires")).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Cron expression" })).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("This parameter is required.")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByLabelText("token")).toHaveValue(""));
  });

  it("sends a new schedule with its job, timing and policies, then opens it", async () => {
    const post = stub((path) => (path === "/api/v1/schedules/preview/" ? answer(200, { timezone: "UTC", items: [] }) : answer(201, { id: "s9" })));
    editor();
    fireEvent.change(await screen.findByLabelText("token"), { target: { value: "s3cret" } });
    fireEvent.change(screen.getByRole("textbox", { name: "Name" }), { target: { value: "nightly" } });
    fireEvent.click(screen.getByRole("button", { name: "Create schedule" }));
    expect(await screen.findByText("saved")).toBeInTheDocument();
    const calls = post.mock.calls as unknown as [string, { body: Record<string, unknown> }][];
    const create = calls.find(([path]) => path === "/api/v1/schedules/") as [string, { body: Record<string, unknown> }];
    expect(create[1].body).toMatchObject({
      name: "nightly",
      job: "j1",
      job_version: null,
      kind: "cron",
      parameters: { token: "s3cret" },
      misfire_policy: "skip",
      overlap_policy: "allow",
      enabled: true,
    });
  });

  it("lets a viewer read the form and preview, with saving off and the reason given", async () => {
    stub(() => answer(200, { timezone: "UTC", items: [plainItem] }));
    editor("viewer");
    expect(await screen.findByText(/Changing schedules needs the manager role or above/)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Create schedule" })).toBeDisabled();
    expect(await screen.findByRole("list", { name: "Next firings" })).toBeInTheDocument();
  });

  it("edits a stored schedule in its zone and keeps the stored secret unless retyped", async () => {
    const stored = {
      id: "s1", name: "nightly", description: "", job: "j1", job_name: "backup", job_version: null,
      parameters: { token: "********" }, selector: "", kind: "cron", cron: "30 2 * * *", interval_every: null,
      interval_unit: "", run_at: null, frequency: "", every: null, time_of_day: null, days_of_week: [],
      day_of_month: null, timezone: "Europe/Berlin", start_at: "2027-03-25T23:00:00Z", end_at: null, max_firings: null,
      enabled: true, misfire_policy: "skip", misfire_grace_seconds: 60, overlap_policy: "allow", revision: 4,
    };
    vi.spyOn(api, "GET").mockImplementation(((path: string) =>
      path === "/api/v1/schedules/{id}/"
        ? answer(200, stored)
        : path === "/api/v1/jobs/"
          ? answer(200, { count: 1, next: null, previous: null, results: [job] })
          : answer(200, job)) as never);
    vi.spyOn(api, "POST").mockImplementation((() => answer(200, { timezone: "Europe/Berlin", items: [] })) as never);
    const put = vi.spyOn(api, "PUT").mockImplementation((() => answer(200, { id: "s1" })) as never);
    renderWith(
      <Routes>
        <Route path="/schedules/:id/edit" element={<ScheduleEditorPage />} />
        <Route path="/schedules/:id" element={<p>saved</p>} />
      </Routes>,
      { role: "manager", path: "/schedules/s1/edit" },
    );
    expect(await screen.findByRole("heading", { name: "Edit nightly" })).toBeInTheDocument();
    expect(screen.getByLabelText("Start (Europe/Berlin, optional)")).toHaveValue("2027-03-26T00:00");
    const token = await screen.findByLabelText("token");
    expect(token).toHaveValue("");
    expect(screen.getByText(/A value is stored \(never shown\)/)).toBeInTheDocument();
    fireEvent.change(screen.getByRole("textbox", { name: "Cron expression" }), { target: { value: "0 3 * * *" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("saved")).toBeInTheDocument();
    const [, init] = put.mock.calls[0] as unknown as [string, { body: Record<string, unknown> }];
    expect(init.body).toMatchObject({ cron: "0 3 * * *", timezone: "Europe/Berlin", start_at: "2027-03-26T00:00", parameters: { token: "********" } });
  });
});
