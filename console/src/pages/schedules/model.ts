// Schedules as the console edits them: the editor's form (strings, as inputs hold them) to and
// from the API's shape, the preview request, and how schedules, zones and firings read.
import type { components } from "../../api/client";
import type { ParameterSpec, Values } from "../../components/ParameterFields";

export type Schedule = components["schemas"]["Schedule"];
export type Firing = components["schemas"]["Firing"];
export type PreviewItem = components["schemas"]["PreviewItem"];
export type Kind = components["schemas"]["ScheduleKindEnum"];

export const KINDS: { value: Kind; label: string; help: string }[] = [
  { value: "cron", label: "Cron", help: "A cron expression, read as wall-clock time in the zone." },
  { value: "interval", label: "Interval", help: "Every N seconds, minutes, hours or days from the start." },
  { value: "calendar", label: "Calendar", help: "A time of day every N days, weeks (on chosen days) or months." },
  { value: "once", label: "Once", help: "One date and time." },
];
export const UNITS = ["seconds", "minutes", "hours", "days"] as const;
export const FREQUENCIES = [
  { value: "daily", label: "days" },
  { value: "weekly", label: "weeks" },
  { value: "monthly", label: "months" },
] as const;
export const WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"] as const;
export const MISFIRE = [
  { value: "skip", label: "Skip: record late due times as missed, run nothing late" },
  { value: "run_once", label: "Run once: one catch-up run for the latest late due time" },
] as const;
export const OVERLAP = [
  { value: "allow", label: "Allow: start the new run anyway" },
  { value: "skip", label: "Skip: record the due time as skipped" },
  { value: "queue", label: "Queue: start it; it waits for the previous run to end" },
] as const;

export const OUTCOMES: { value: Firing["outcome"]; label: string }[] = [
  { value: "fired", label: "Fired" },
  { value: "skipped", label: "Skipped" },
  { value: "missed", label: "Missed" },
  { value: "failed_to_start", label: "Failed to start" },
  { value: "starting", label: "Starting" },
];

export function outcomeLabel(outcome: string): string {
  return OUTCOMES.find((item) => item.value === outcome)?.label ?? outcome;
}

/** The editor's state: every input as text (wall-clock date-times as `YYYY-MM-DDTHH:MM` in the
 * schedule's zone, as `datetime-local` inputs hold them). */
export interface ScheduleForm {
  name: string;
  description: string;
  job: string;
  jobVersion: string; // "" = the latest version when it fires
  kind: Kind;
  cron: string;
  intervalEvery: string;
  intervalUnit: string;
  runAt: string;
  frequency: string;
  every: string;
  timeOfDay: string;
  daysOfWeek: number[];
  dayOfMonth: string;
  timezone: string;
  startAt: string;
  endAt: string;
  maxFirings: string;
  misfirePolicy: string;
  misfireGraceSeconds: string;
  overlapPolicy: string;
  selector: string;
  enabled: boolean;
}

export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

let zones: string[] | null = null;

/** Every IANA zone this browser knows (UTC first). The server decides what it accepts. */
export function timeZones(): string[] {
  if (!zones) {
    const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    zones = ["UTC", ...known.filter((zone) => zone !== "UTC")];
  }
  return zones;
}

export function emptyForm(job = ""): ScheduleForm {
  return {
    name: "",
    description: "",
    job,
    jobVersion: "",
    kind: "cron",
    cron: "0 2 * * *",
    intervalEvery: "15",
    intervalUnit: "minutes",
    runAt: "",
    frequency: "daily",
    every: "1",
    timeOfDay: "09:00",
    daysOfWeek: [],
    dayOfMonth: "1",
    timezone: viewerZone(),
    startAt: "",
    endAt: "",
    maxFirings: "",
    misfirePolicy: "skip",
    misfireGraceSeconds: "60",
    overlapPolicy: "allow",
    selector: "",
    enabled: true,
  };
}

/** The UTC offset a local ISO date-time ends with ("+02:00"), "" if none. */
export function offsetOf(local: string | null | undefined): string {
  const match = local?.match(/([+-]\d{2}:\d{2}|Z)$/);
  return match ? (match[1] === "Z" ? "+00:00" : match[1]) : "";
}

function parts(date: Date, zone: string): Record<string, string> {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    weekday: "short",
    timeZoneName: "short",
  });
  return Object.fromEntries(format.formatToParts(date).map((part) => [part.type, part.value]));
}

/** An instant as wall-clock `YYYY-MM-DDTHH:MM` in a zone (what the editor's inputs hold). */
export function wallClock(iso: string | null | undefined, zone: string): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  try {
    const p = parts(date, zone);
    const seconds = date.getUTCSeconds();
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}${seconds ? `:${String(seconds).padStart(2, "0")}` : ""}`;
  } catch {
    return "";
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** A local ISO date-time with its offset (the server's `local`, `next_fire_local`) read as the
 * wall clock it names, whatever the viewer's zone: "Sun 29 Mar 2026, 03:00 CEST". */
export function formatWall(local: string | null | undefined, abbreviation = ""): string {
  if (!local) return "—";
  const match = local.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/);
  if (!match) return local;
  const [, year, month, day, hour, minute, second] = match;
  const weekday = DAYS[new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))).getUTCDay()];
  const clock = second && second !== "00" ? `${hour}:${minute}:${second}` : `${hour}:${minute}`;
  return `${weekday} ${Number(day)} ${MONTHS[Number(month) - 1]} ${year}, ${clock}${abbreviation ? ` ${abbreviation}` : ""}`;
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

export function formFromSchedule(schedule: Schedule): ScheduleForm {
  const zone = schedule.timezone || "UTC";
  return {
    name: schedule.name,
    description: schedule.description ?? "",
    job: schedule.job,
    jobVersion: text(schedule.job_version),
    kind: schedule.kind,
    cron: schedule.cron ?? "",
    intervalEvery: text(schedule.interval_every),
    intervalUnit: schedule.interval_unit || "minutes",
    runAt: wallClock(schedule.run_at, zone),
    frequency: schedule.frequency || "daily",
    every: text(schedule.every ?? 1),
    timeOfDay: (schedule.time_of_day ?? "").slice(0, 5),
    daysOfWeek: (schedule.days_of_week ?? []).map((day) => (typeof day === "number" ? day : WEEKDAYS.indexOf(day))),
    dayOfMonth: text(schedule.day_of_month ?? 1),
    timezone: zone,
    startAt: wallClock(schedule.start_at, zone),
    endAt: wallClock(schedule.end_at, zone),
    maxFirings: text(schedule.max_firings),
    misfirePolicy: schedule.misfire_policy ?? "skip",
    misfireGraceSeconds: text(schedule.misfire_grace_seconds ?? 60),
    overlapPolicy: schedule.overlap_policy ?? "allow",
    selector: schedule.selector ?? "",
    enabled: schedule.enabled ?? true,
  };
}

function integer(value: string): number | null {
  return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim() === "" ? null : (value as unknown as number);
}

/** The timing of the form as the API takes it: the fields of its kind, the others cleared
 * (the API refuses another kind's fields rather than ignoring them), wall-clock date-times
 * without an offset (read in the schedule's zone by the server, with its DST rules). */
export function timingPayload(form: ScheduleForm): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    kind: form.kind,
    timezone: form.timezone,
    start_at: form.startAt || null,
    end_at: form.endAt || null,
    cron: "",
    interval_every: null,
    interval_unit: "",
    run_at: null,
    frequency: "",
    every: null,
    time_of_day: null,
    days_of_week: [],
    day_of_month: null,
  };
  if (form.kind === "cron") payload.cron = form.cron.trim();
  if (form.kind === "interval") {
    payload.interval_every = integer(form.intervalEvery);
    payload.interval_unit = form.intervalUnit;
  }
  if (form.kind === "once") payload.run_at = form.runAt || null;
  if (form.kind === "calendar") {
    payload.frequency = form.frequency;
    payload.every = integer(form.every) ?? 1;
    payload.time_of_day = form.timeOfDay || null;
    if (form.frequency === "weekly") payload.days_of_week = [...form.daysOfWeek].sort((a, b) => a - b);
    if (form.frequency === "monthly") payload.day_of_month = integer(form.dayOfMonth);
  }
  return payload;
}

/** Secret values are write-only: an empty secret field on an edit sends the stored value back
 * masked (the server keeps it); a typed one replaces it. */
export function schedulePayload(
  form: ScheduleForm,
  parameters: ParameterSpec[],
  values: Values,
  stored: Record<string, unknown> | null,
  payloadOf: (parameters: ParameterSpec[], values: Values) => Record<string, unknown>,
): Record<string, unknown> {
  const given = payloadOf(parameters, values);
  for (const parameter of parameters) {
    if (parameter.type === "secret" && !values[parameter.name] && stored?.[parameter.name] === MASK) {
      given[parameter.name] = MASK;
    }
  }
  return {
    ...timingPayload(form),
    name: form.name.trim(),
    description: form.description,
    job: form.job,
    job_version: form.jobVersion ? Number(form.jobVersion) : null,
    parameters: given,
    selector: form.selector.trim(),
    max_firings: integer(form.maxFirings),
    misfire_policy: form.misfirePolicy,
    misfire_grace_seconds: integer(form.misfireGraceSeconds) ?? 60,
    overlap_policy: form.overlapPolicy,
    enabled: form.enabled,
  };
}

export const MASK = "********";

/** Parameter values of a stored schedule for the form: secrets never filled in. */
export function valuesFromSchedule(parameters: ParameterSpec[], stored: Record<string, unknown>, initial: Values): Values {
  const values: Values = { ...initial };
  for (const parameter of parameters) {
    if (!(parameter.name in stored)) continue;
    const value = stored[parameter.name];
    if (parameter.type === "secret") values[parameter.name] = "";
    else if (parameter.type === "boolean") values[parameter.name] = value === true;
    else values[parameter.name] = value === null || value === undefined ? "" : String(value);
  }
  return values;
}

const UNIT_ONE: Record<string, string> = { seconds: "second", minutes: "minute", hours: "hour", days: "day" };

/** A schedule's timing in words: "cron 30 2 * * *", "every 15 minutes", "every 2 weeks on MON,
 * FRI at 09:30", "once at Thu 24 Dec 2026, 18:00". */
export function describeTiming(schedule: Pick<Schedule, "kind" | "cron" | "interval_every" | "interval_unit" | "frequency" | "every" | "time_of_day" | "days_of_week" | "day_of_month" | "run_at" | "timezone">): string {
  switch (schedule.kind) {
    case "cron":
      return `cron ${schedule.cron}`;
    case "interval": {
      const every = schedule.interval_every ?? 1;
      const unit = schedule.interval_unit || "minutes";
      return every === 1 ? `every ${UNIT_ONE[unit] ?? unit}` : `every ${every} ${unit}`;
    }
    case "calendar": {
      const every = schedule.every ?? 1;
      const unit = { daily: "day", weekly: "week", monthly: "month" }[schedule.frequency as string] ?? "day";
      let words = every === 1 ? `every ${unit}` : `every ${every} ${unit}s`;
      if (schedule.frequency === "weekly") {
        words += ` on ${(schedule.days_of_week ?? []).map((day) => (typeof day === "number" ? WEEKDAYS[day] : day)).join(", ")}`;
      }
      if (schedule.frequency === "monthly") words += ` on day ${schedule.day_of_month}`;
      return schedule.time_of_day ? `${words} at ${schedule.time_of_day.slice(0, 5)}` : words;
    }
    case "once":
      return `once at ${formatWall(wallClock(schedule.run_at, schedule.timezone || "UTC"))}`;
    default:
      return schedule.kind;
  }
}

/** How a firing's DST rule reads as a short tag (the server's note says it in full). */
export function dstTag(item: Pick<PreviewItem, "dst_rule">): string {
  switch (item.dst_rule) {
    case "gap":
      return "Clocks go forward";
    case "repeated":
      return "Clocks go back";
    case "offset_changed":
      return "New UTC offset";
    default:
      return "";
  }
}
