// A run's or a target's state: an icon and its word, coloured too, never colour alone.
import { Chip, type ChipProps } from "@mui/material";
import Block from "@mui/icons-material/Block";
import CheckCircle from "@mui/icons-material/CheckCircle";
import Error from "@mui/icons-material/Error";
import HelpOutline from "@mui/icons-material/HelpOutline";
import HourglassEmpty from "@mui/icons-material/HourglassEmpty";
import LinkOff from "@mui/icons-material/LinkOff";
import PlayCircle from "@mui/icons-material/PlayCircle";
import Schedule from "@mui/icons-material/Schedule";
import SkipNext from "@mui/icons-material/SkipNext";
import TimerOff from "@mui/icons-material/TimerOff";
import type { ReactElement } from "react";

type Tone = ChipProps["color"];

const STATES: Record<string, { label: string; icon: ReactElement; color: Tone }> = {
  pending: { label: "Pending", icon: <Schedule />, color: "default" },
  queued: { label: "Queued", icon: <HourglassEmpty />, color: "default" },
  running: { label: "Running", icon: <PlayCircle />, color: "info" },
  succeeded: { label: "Succeeded", icon: <CheckCircle />, color: "success" },
  failed: { label: "Failed", icon: <Error />, color: "error" },
  unreachable: { label: "Unreachable", icon: <LinkOff />, color: "error" },
  canceled: { label: "Canceled", icon: <Block />, color: "warning" },
  timed_out: { label: "Timed out", icon: <TimerOff />, color: "error" },
  skipped: { label: "Skipped", icon: <SkipNext />, color: "default" },
  lost: { label: "Lost", icon: <HelpOutline />, color: "error" },
};

export function stateLabel(state: string): string {
  return STATES[state]?.label ?? state;
}

export const TERMINAL_RUN = new Set(["succeeded", "failed", "canceled", "timed_out"]);
export const TERMINAL_TARGET = new Set(["succeeded", "failed", "unreachable", "canceled", "timed_out", "skipped", "lost"]);

export function StatusChip({ state, size = "small" }: { state: string; size?: ChipProps["size"] }) {
  const known = STATES[state] ?? { label: state, icon: <HelpOutline />, color: "default" as Tone };
  return <Chip icon={known.icon} label={known.label} color={known.color} size={size} variant="outlined" />;
}
