// Small pieces of the schedules pages: a firing's outcome and a schedule's state, each an icon
// and a word (never colour alone).
import { Chip, Typography, type ChipProps } from "@mui/material";
import CheckCircle from "@mui/icons-material/CheckCircle";
import DoneAll from "@mui/icons-material/DoneAll";
import Error from "@mui/icons-material/Error";
import EventBusy from "@mui/icons-material/EventBusy";
import HourglassEmpty from "@mui/icons-material/HourglassEmpty";
import PauseCircle from "@mui/icons-material/PauseCircle";
import PlayCircle from "@mui/icons-material/PlayCircle";
import SkipNext from "@mui/icons-material/SkipNext";
import type { ReactElement } from "react";
import { Time } from "../../components/Time";
import { formatWall, offsetOf, outcomeLabel, type Schedule } from "./model";

const OUTCOME_LOOK: Record<string, { icon: ReactElement; color: ChipProps["color"] }> = {
  fired: { icon: <CheckCircle />, color: "success" },
  skipped: { icon: <SkipNext />, color: "default" },
  missed: { icon: <EventBusy />, color: "warning" },
  failed_to_start: { icon: <Error />, color: "error" },
  starting: { icon: <HourglassEmpty />, color: "default" },
};

export function OutcomeChip({ outcome }: { outcome: string }) {
  const look = OUTCOME_LOOK[outcome] ?? { icon: <HourglassEmpty />, color: "default" as const };
  return <Chip size="small" variant="outlined" icon={look.icon} color={look.color} label={outcomeLabel(outcome)} />;
}

export function scheduleState(schedule: Pick<Schedule, "enabled" | "next_fire_at">): "active" | "paused" | "finished" {
  if (!schedule.enabled) return "paused";
  return schedule.next_fire_at ? "active" : "finished";
}

export function ScheduleState({ schedule }: { schedule: Pick<Schedule, "enabled" | "next_fire_at"> }) {
  const state = scheduleState(schedule);
  if (state === "paused") return <Chip size="small" variant="outlined" color="warning" icon={<PauseCircle />} label="Paused" />;
  if (state === "finished") return <Chip size="small" variant="outlined" icon={<DoneAll />} label="Finished" />;
  return <Chip size="small" variant="outlined" color="info" icon={<PlayCircle />} label="Active" />;
}

/** The next firing in the schedule's zone (named) and in the viewer's (exact UTC on hover). */
export function NextFiring({ schedule }: { schedule: Schedule }) {
  if (!schedule.next_fire_at) {
    return (
      <Typography variant="body2" color="text.secondary">
        {schedule.enabled ? schedule.finished_reason || "nothing due" : "paused"}
      </Typography>
    );
  }
  const zone = schedule.timezone || "UTC";
  return (
    <>
      <div>
        {formatWall(schedule.next_fire_local)}{" "}
        <Typography component="span" variant="caption" color="text.secondary">
          ({zone}, UTC{offsetOf(schedule.next_fire_local)})
        </Typography>
      </div>
      <Typography variant="caption" color="text.secondary" component="div">
        your time: <Time value={schedule.next_fire_at} />
      </Typography>
    </>
  );
}
