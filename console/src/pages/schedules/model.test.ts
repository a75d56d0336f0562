import { describe, expect, it } from "vitest";
import { parameterPayload, type ParameterSpec } from "../../components/ParameterFields";
import {
  describeTiming,
  dstTag,
  emptyForm,
  formatWall,
  formFromSchedule,
  MASK,
  offsetOf,
  schedulePayload,
  timeZones,
  timingPayload,
  valuesFromSchedule,
  wallClock,
  type Schedule,
} from "./model";

const stored = {
  id: "s1",
  name: "nightly",
  description: "",
  job: "j1",
  job_name: "backup",
  job_version: 3,
  parameters: { greeting: "hi", token: MASK },
  selector: "env=prod",
  kind: "cron",
  cron: "30 2 * * *",
  interval_every: null,
  interval_unit: "",
  run_at: null,
  frequency: "",
  every: null,
  time_of_day: null,
  days_of_week: [],
  day_of_month: null,
  timezone: "Europe/Berlin",
  start_at: "2027-03-25T23:00:00Z",
  end_at: null,
  max_firings: 5,
  enabled: true,
  misfire_policy: "run_once",
  misfire_grace_seconds: 30,
  overlap_policy: "skip",
} as unknown as Schedule;

const parameters: ParameterSpec[] = [
  { name: "greeting", type: "string" },
  { name: "token", type: "secret" },
];

describe("timingPayload", () => {
  it("sends the fields of the kind and clears the others (the API refuses another kind's)", () => {
    const form = { ...emptyForm("j1"), kind: "interval" as const, intervalEvery: "15", intervalUnit: "minutes", cron: "0 2 * * *", timezone: "UTC" };
    const payload = timingPayload(form);
    expect(payload).toMatchObject({ kind: "interval", interval_every: 15, interval_unit: "minutes", cron: "", run_at: null, frequency: "", days_of_week: [] });
  });

  it("keeps wall-clock date-times without an offset: the server reads them in the schedule's zone", () => {
    const form = { ...emptyForm(), kind: "once" as const, runAt: "2027-03-29T02:30", timezone: "Europe/Berlin", startAt: "2027-03-27T00:00" };
    expect(timingPayload(form)).toMatchObject({ run_at: "2027-03-29T02:30", start_at: "2027-03-27T00:00", end_at: null, timezone: "Europe/Berlin" });
  });

  it("sends the days of a weekly calendar schedule in order, and a monthly one's day", () => {
    const weekly = { ...emptyForm(), kind: "calendar" as const, frequency: "weekly", every: "2", timeOfDay: "09:30", daysOfWeek: [4, 0] };
    expect(timingPayload(weekly)).toMatchObject({ frequency: "weekly", every: 2, time_of_day: "09:30", days_of_week: [0, 4], day_of_month: null });
    const monthly = { ...weekly, frequency: "monthly", dayOfMonth: "31" };
    expect(timingPayload(monthly)).toMatchObject({ days_of_week: [], day_of_month: 31 });
  });

  it("passes a number the user mistyped on to the server, which names the field", () => {
    const form = { ...emptyForm(), kind: "interval" as const, intervalEvery: "ten" };
    expect(timingPayload(form).interval_every).toBe("ten");
  });
});

describe("editing a stored schedule", () => {
  it("shows its start as wall-clock time in its own zone, whatever the viewer's", () => {
    const form = formFromSchedule(stored);
    expect(form.startAt).toBe("2027-03-26T00:00");
    expect(form).toMatchObject({ kind: "cron", cron: "30 2 * * *", jobVersion: "3", maxFirings: "5", misfirePolicy: "run_once", overlapPolicy: "skip" });
  });

  it("never fills in a secret, and sends the stored one back masked unless retyped", () => {
    const values = valuesFromSchedule(parameters, stored.parameters as Record<string, unknown>, { greeting: "", token: "" });
    expect(values).toEqual({ greeting: "hi", token: "" });
    const form = formFromSchedule(stored);
    const kept = schedulePayload(form, parameters, values, stored.parameters as Record<string, unknown>, parameterPayload);
    expect(kept.parameters).toEqual({ greeting: "hi", token: MASK });
    const retyped = schedulePayload(form, parameters, { ...values, token: "new" }, stored.parameters as Record<string, unknown>, parameterPayload);
    expect(retyped.parameters).toEqual({ greeting: "hi", token: "new" });
    // a new schedule has nothing stored: an empty secret is simply not sent
    const fresh = schedulePayload(form, parameters, values, null, parameterPayload);
    expect(fresh.parameters).toEqual({ greeting: "hi" });
  });

  it("pins a version or follows the latest", () => {
    const form = formFromSchedule(stored);
    expect(schedulePayload(form, [], {}, null, parameterPayload).job_version).toBe(3);
    expect(schedulePayload({ ...form, jobVersion: "" }, [], {}, null, parameterPayload).job_version).toBeNull();
  });
});

describe("reading times", () => {
  it("reads the server's local time as the wall clock it names", () => {
    expect(formatWall("2027-03-28T03:00:00+02:00", "CEST")).toBe("Sun 28 Mar 2027, 03:00 CEST");
    expect(formatWall(null)).toBe("—");
    expect(formatWall("2026-12-08T01:10:27+01:00")).toBe("Tue 8 Dec 2026, 01:10:27");
    expect(offsetOf("2027-03-28T03:00:00+02:00")).toBe("+02:00");
    expect(offsetOf("2027-03-28T01:00:00Z")).toBe("+00:00");
  });

  it("turns an instant into a zone's wall clock across the DST change", () => {
    expect(wallClock("2027-03-28T00:59:00Z", "Europe/Berlin")).toBe("2027-03-28T01:59");
    expect(wallClock("2027-03-28T01:00:00Z", "Europe/Berlin")).toBe("2027-03-28T03:00");
    expect(wallClock("2027-03-28T01:00:00Z", "Not/AZone")).toBe("");
    expect(wallClock("2026-12-08T00:10:27Z", "Europe/Berlin")).toBe("2026-12-08T01:10:27");
  });

  it("offers the IANA zones with UTC first", () => {
    const zones = timeZones();
    expect(zones[0]).toBe("UTC");
    expect(zones).toContain("Europe/Berlin");
    expect(zones.filter((zone) => zone === "UTC")).toHaveLength(1);
  });

  it("says each kind in words", () => {
    expect(describeTiming(stored)).toBe("cron 30 2 * * *");
    expect(describeTiming({ ...stored, kind: "interval", interval_every: 1, interval_unit: "hours" })).toBe("every hour");
    expect(describeTiming({ ...stored, kind: "interval", interval_every: 15, interval_unit: "minutes" })).toBe("every 15 minutes");
    expect(describeTiming({ ...stored, kind: "calendar", frequency: "weekly", every: 2, days_of_week: [0, 4], time_of_day: "09:30" })).toBe(
      "every 2 weeks on MON, FRI at 09:30",
    );
    expect(describeTiming({ ...stored, kind: "once", run_at: "2026-12-24T17:00:00Z" })).toBe("once at Thu 24 Dec 2026, 18:00");
  });

  it("names the DST rule the server applied", () => {
    expect(dstTag({ dst_rule: "gap" })).toBe("Clocks go forward");
    expect(dstTag({ dst_rule: "repeated" })).toBe("Clocks go back");
    expect(dstTag({ dst_rule: "" })).toBe("");
  });
});
