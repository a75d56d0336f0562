// The next fire times of a schedule (or of a definition being edited): each in the schedule's
// zone (the server's wall clock and abbreviation) and in the viewer's, and where DST changed
// something, the rule that applied in the server's words.
import { Alert, Box, Chip, List, ListItem, Stack, Typography } from "@mui/material";
import WbTwilight from "@mui/icons-material/WbTwilight";
import { Time } from "../../components/Time";
import { dstTag, formatWall, viewerZone, type PreviewItem } from "./model";

export function PreviewList({
  items,
  zone,
  label,
  empty,
}: {
  items: PreviewItem[];
  zone: string;
  label: string;
  empty: string;
}) {
  if (items.length === 0) {
    return (
      <Typography color="text.secondary" sx={{ py: 1 }}>
        {empty}
      </Typography>
    );
  }
  const sameZone = zone === viewerZone();
  return (
    <List dense aria-label={label} disablePadding>
      {items.map((item) => {
        const tag = dstTag(item);
        return (
          <ListItem key={item.at} disableGutters divider sx={{ display: "block" }}>
            <Stack direction="row" spacing={1} alignItems="center" flexWrap="wrap" useFlexGap>
              <Typography component="span" sx={{ fontVariantNumeric: "tabular-nums" }}>
                {formatWall(item.local, item.abbreviation)}
              </Typography>
              {tag ? (
                <Chip
                  size="small"
                  icon={<WbTwilight />}
                  label={tag}
                  color={item.dst_rule === "offset_changed" ? "default" : "warning"}
                  variant="outlined"
                />
              ) : null}
            </Stack>
            <Typography component="div" variant="caption" color="text.secondary">
              {zone} UTC{item.utc_offset}
              {sameZone ? null : (
                <>
                  {" · your time: "}
                  <Time value={item.at} />
                </>
              )}
            </Typography>
            {item.note && item.dst_rule !== "offset_changed" ? (
              <Alert severity="info" icon={false} sx={{ mt: 0.5, py: 0 }} data-testid="dst-note">
                {item.note}
              </Alert>
            ) : item.note ? (
              <Box component="span" sx={{ typography: "caption", color: "text.secondary" }}>
                {item.note}
              </Box>
            ) : null}
          </ListItem>
        );
      })}
    </List>
  );
}
