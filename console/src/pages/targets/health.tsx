// A target's health (the last check's verdict) and a host key's trust state, each as an icon
// and words: never colour alone.
import { Box, CircularProgress, Tooltip } from "@mui/material";
import CheckCircleIcon from "@mui/icons-material/CheckCircle";
import CloudOffIcon from "@mui/icons-material/CloudOff";
import LockPersonIcon from "@mui/icons-material/LockPerson";
import HelpOutlineIcon from "@mui/icons-material/HelpOutline";
import KeyIcon from "@mui/icons-material/Key";
import KeyOffIcon from "@mui/icons-material/KeyOff";
import GppBadIcon from "@mui/icons-material/GppBad";
import BlockIcon from "@mui/icons-material/Block";
import ErrorIcon from "@mui/icons-material/Error";
import HourglassEmptyIcon from "@mui/icons-material/HourglassEmpty";
import VerifiedUserIcon from "@mui/icons-material/VerifiedUser";
import type { ComponentType } from "react";

type Tone = "success" | "error" | "warning" | "disabled" | "info";
interface Look {
  label: string;
  Icon: ComponentType<{ fontSize?: "small" | "inherit"; color?: Tone; "aria-hidden"?: boolean }>;
  tone: Tone;
  /** what the operator does about it */
  hint: string;
}

export const HEALTH: Record<string, Look> = {
  healthy: { label: "Healthy", Icon: CheckCircleIcon, tone: "success", hint: "The last check connected and ran a command." },
  unreachable: { label: "Unreachable", Icon: CloudOffIcon, tone: "error", hint: "No connection: check the address, port, firewall." },
  auth_failed: { label: "Auth failed", Icon: LockPersonIcon, tone: "error", hint: "The host refused the credential: check the user and secret." },
  host_key_unknown: {
    label: "Host key pending",
    Icon: KeyIcon,
    tone: "warning",
    hint: "The host's key is not trusted yet: approve it on the target's page.",
  },
  host_key_mismatch: {
    label: "Host key changed",
    Icon: KeyOffIcon,
    tone: "error",
    hint: "The host presented a different key than the trusted one: verify before approving.",
  },
  scope_refused: {
    label: "Outside credential scope",
    Icon: GppBadIcon,
    tone: "error",
    hint: "The credential may not be used on this target.",
  },
  error: { label: "Error", Icon: ErrorIcon, tone: "error", hint: "The check failed: see its message." },
  unknown: { label: "Not checked", Icon: HelpOutlineIcon, tone: "disabled", hint: "Run a health check to learn the state." },
};

export function healthLook(status: string | null | undefined): Look {
  return HEALTH[status || "unknown"] ?? { ...HEALTH.error, label: status ?? "Unknown" };
}

/** The health status as an icon and words; `message` (the check's own words) on hover. */
export function HealthStatus({ status, message }: { status: string | null | undefined; message?: string }) {
  const look = healthLook(status);
  const content = (
    <Box component="span" sx={{ display: "inline-flex", alignItems: "center", gap: 0.5, whiteSpace: "nowrap" }}>
      <look.Icon fontSize="small" color={look.tone} aria-hidden />
      <span>{look.label}</span>
    </Box>
  );
  const title = message ? `${look.hint} ${message}` : look.hint;
  return (
    <Tooltip title={title}>
      <Box component="span" data-health={status || "unknown"}>
        {content}
      </Box>
    </Tooltip>
  );
}

/** A check in a batch or in the history: queued and running have no verdict yet. */
export function CheckState({ state, status, message }: { state: string; status: string; message?: string }) {
  if (state === "finished") return <HealthStatus status={status} message={message} />;
  return (
    <Box component="span" sx={{ display: "inline-flex", alignItems: "center", gap: 0.5 }}>
      {state === "running" ? (
        <CircularProgress size={14} aria-hidden />
      ) : (
        <HourglassEmptyIcon fontSize="small" color="disabled" aria-hidden />
      )}
      <span>{state === "running" ? "Checking…" : "Queued"}</span>
    </Box>
  );
}

const KEY_STATES: Record<string, Look> = {
  trusted: { label: "Trusted", Icon: VerifiedUserIcon, tone: "success", hint: "Connections accept this key." },
  pending: { label: "Pending approval", Icon: KeyIcon, tone: "warning", hint: "Seen but not trusted: an admin approves or rejects it." },
  rejected: { label: "Rejected", Icon: BlockIcon, tone: "error", hint: "Connections presenting this key are refused." },
};

export function HostKeyState({ state }: { state: string }) {
  const look = KEY_STATES[state] ?? { ...KEY_STATES.pending, label: state };
  return (
    <Box component="span" sx={{ display: "inline-flex", alignItems: "center", gap: 0.5, whiteSpace: "nowrap" }} title={look.hint}>
      <look.Icon fontSize="small" color={look.tone} aria-hidden />
      <span>{look.label}</span>
    </Box>
  );
}
