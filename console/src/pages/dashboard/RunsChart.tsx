// Runs of the last 24 hours by outcome: one stacked bar per hour, our own small SVG (no chart
// library on the console's first page). The picture is described in words for screen readers
// and every count of the legend is a link to the runs behind it.
import { Box, Link, Stack, Typography, useTheme } from "@mui/material";
import { Link as RouterLink } from "react-router";
import { chartBars, niceMax, OUTCOME_LABELS, OUTCOMES, runsLink, type Outcome, type RunStats } from "./summary";

const WIDTH = 720;
const HEIGHT = 180;
const AXIS = 22; // room for the hours under the bars
const LEFT = 34; // room for the scale

function hourLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function useOutcomeColours(): Record<Outcome, string> {
  const { palette } = useTheme();
  return {
    succeeded: palette.success.main,
    failed: palette.error.main,
    timed_out: palette.warning.dark,
    canceled: palette.grey[palette.mode === "dark" ? 400 : 600],
    running: palette.info.main,
    pending: palette.secondary.main,
  };
}

export function describeStats(stats: RunStats): string {
  const parts = OUTCOMES.filter((outcome) => (stats.totals[outcome] ?? 0) > 0).map(
    (outcome) => `${stats.totals[outcome]} ${OUTCOME_LABELS[outcome].toLowerCase()}`,
  );
  return stats.total === 0
    ? "No runs were started in the last 24 hours."
    : `${stats.total} runs started in the last 24 hours: ${parts.join(", ")}.`;
}

export function RunsChart({ stats }: { stats: RunStats }) {
  const theme = useTheme();
  const colours = useOutcomeColours();
  const bars = chartBars(stats);
  const scale = niceMax(Math.max(0, ...bars.map((bar) => bar.total)));
  const plotHeight = HEIGHT - AXIS - 8;
  const slot = (WIDTH - LEFT) / Math.max(bars.length, 1);
  const barWidth = Math.max(2, slot * 0.7);
  const text = theme.palette.text.secondary;
  const description = describeStats(stats);

  return (
    <Box>
      <Box sx={{ width: "100%", overflowX: "auto" }}>
        <svg
          viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
          width="100%"
          role="img"
          aria-label={`Runs per hour. ${description}`}
          style={{ display: "block", maxHeight: 220, minWidth: 360 }}
        >
          {/* the scale: zero and the top */}
          {[0, scale].map((value) => {
            const y = 8 + plotHeight - (value / scale) * plotHeight;
            return (
              <g key={value}>
                <line x1={LEFT} x2={WIDTH} y1={y} y2={y} stroke={theme.palette.divider} />
                <text x={LEFT - 6} y={y + 4} textAnchor="end" fontSize="11" fill={text}>
                  {value}
                </text>
              </g>
            );
          })}
          {bars.map((bar, index) => {
            const x = LEFT + index * slot + (slot - barWidth) / 2;
            let y = 8 + plotHeight;
            const label = `${hourLabel(bar.start)}: ${bar.total} runs${bar.total ? ` (${OUTCOMES.filter((o) => bar.counts[o]).map((o) => `${bar.counts[o]} ${OUTCOME_LABELS[o].toLowerCase()}`).join(", ")})` : ""}`;
            return (
              <g key={bar.start} data-testid="chart-bar" data-total={bar.total}>
                <title>{label}</title>
                {/* an invisible full-height target, so a thin bar still shows its title */}
                <rect x={LEFT + index * slot} y={8} width={slot} height={plotHeight} fill="transparent" />
                {OUTCOMES.map((outcome) => {
                  const count = bar.counts[outcome];
                  if (!count) return null;
                  const height = (count / scale) * plotHeight;
                  y -= height;
                  return <rect key={outcome} x={x} y={y} width={barWidth} height={height} fill={colours[outcome]} data-outcome={outcome} />;
                })}
                {index % 6 === 0 ? (
                  <text x={x + barWidth / 2} y={HEIGHT - 6} textAnchor="middle" fontSize="11" fill={text}>
                    {hourLabel(bar.start)}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      </Box>
      <Stack component="ul" direction="row" flexWrap="wrap" useFlexGap spacing={2} sx={{ listStyle: "none", p: 0, m: 0, mt: 1 }} aria-label="Runs by outcome">
        {OUTCOMES.map((outcome) => (
          <Box component="li" key={outcome} sx={{ display: "flex", alignItems: "center", gap: 0.75 }}>
            <Box aria-hidden sx={{ width: 12, height: 12, borderRadius: "2px", bgcolor: colours[outcome] }} />
            <Link component={RouterLink} to={runsLink([outcome], stats.since)} underline="hover">
              <Typography component="span" variant="body2" fontWeight={600}>
                {stats.totals[outcome] ?? 0}
              </Typography>{" "}
              <Typography component="span" variant="body2">
                {OUTCOME_LABELS[outcome].toLowerCase()}
              </Typography>
            </Link>
          </Box>
        ))}
      </Stack>
    </Box>
  );
}
