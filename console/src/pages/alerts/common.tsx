// What the alert pages share: the API's shapes, labels, the tabs between the three pages and
// the chip of a delivery's outcome.
import { Chip, Tab, Tabs } from "@mui/material";
import CheckCircle from "@mui/icons-material/CheckCircle";
import Error from "@mui/icons-material/Error";
import Schedule from "@mui/icons-material/Schedule";
import type { ReactElement } from "react";
import { Link as RouterLink, useLocation } from "react-router";
import type { components } from "../../api/client";

export type Channel = components["schemas"]["Channel"];
export type AlertRule = components["schemas"]["AlertRule"];
export type Delivery = components["schemas"]["Delivery"];
export type ChannelTest = components["schemas"]["ChannelTest"];
export type DeliveryStatus = components["schemas"]["DeliveryStatusEnum"];

export interface Paged<T> {
  count: number;
  results: T[];
}

export const ALERTS_KEY = ["alerts"] as const;

/** The events a rule may name, in the order a person reads them. */
export const RULE_EVENTS = [
  { value: "failed", label: "Failed", help: "a run failed or timed out" },
  { value: "recovered", label: "Recovered", help: "the first success after failures" },
  { value: "succeeded", label: "Succeeded", help: "every successful run" },
  { value: "missed", label: "Missed", help: "a due time was missed (schedules only)" },
] as const;

export const EVENT_LABELS: Record<string, string> = {
  failed: "Failed",
  recovered: "Recovered",
  succeeded: "Succeeded",
  missed: "Missed",
  test: "Test notice",
};

export const KIND_LABELS: Record<Channel["kind"], string> = {
  webhook: "Webhook (signed JSON POST)",
  email: "Email",
};

const OUTCOMES: Record<DeliveryStatus, { label: string; icon: ReactElement; color: "default" | "success" | "error" }> = {
  pending: { label: "Pending", icon: <Schedule />, color: "default" },
  delivered: { label: "Delivered", icon: <CheckCircle />, color: "success" },
  failed: { label: "Failed", icon: <Error />, color: "error" },
};

export const OUTCOME_LABELS: Record<DeliveryStatus, string> = {
  pending: "Pending (retrying)",
  delivered: "Delivered",
  failed: "Failed",
};

/** A delivery's outcome: an icon and its word, never colour alone. */
export function OutcomeChip({ status }: { status: DeliveryStatus }) {
  const known = OUTCOMES[status] ?? OUTCOMES.pending;
  return <Chip icon={known.icon} label={known.label} color={known.color} size="small" variant="outlined" />;
}

/** Where a channel sends: a webhook's host (never its path or query), an email's recipients. */
export function destination(channel: Pick<Channel, "kind" | "url" | "recipients">): string {
  if (channel.kind === "email") return (channel.recipients ?? []).join(", ");
  try {
    const url = new URL(channel.url ?? "");
    return `${url.protocol}//${url.host}`;
  } catch {
    return channel.url ?? "";
  }
}

const TABS = [
  { to: "/alerts/channels", label: "Channels" },
  { to: "/alerts/rules", label: "Rules" },
  { to: "/alerts/deliveries", label: "Delivery log" },
];

export function AlertTabs() {
  const { pathname } = useLocation();
  const current = TABS.find((tab) => pathname.startsWith(tab.to))?.to ?? false;
  return (
    <Tabs value={current} aria-label="Alert pages" sx={{ mb: 2, borderBottom: 1, borderColor: "divider" }}>
      {TABS.map((tab) => (
        <Tab key={tab.to} value={tab.to} label={tab.label} component={RouterLink} to={tab.to} />
      ))}
    </Tabs>
  );
}
