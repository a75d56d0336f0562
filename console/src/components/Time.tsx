import { Tooltip } from "@mui/material";
import { formatTime, utcTitle } from "../lib/format";

/** A moment in the viewer's zone (named), the exact UTC on hover and focus. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span>—</span>;
  return (
    <Tooltip title={utcTitle(value) ?? ""}>
      <time dateTime={value} tabIndex={0}>
        {formatTime(value)}
      </time>
    </Tooltip>
  );
}
