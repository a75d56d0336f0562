// One item of an ordered list in the job editor (a step, a parameter): its title, marked when
// the server found problems in it, buttons to move it up or down and remove it, the problems
// that belong to the item as a whole, then its fields.
import { Alert, Card, CardContent, IconButton, Stack, Tooltip, Typography } from "@mui/material";
import ArrowDownward from "@mui/icons-material/ArrowDownward";
import ArrowUpward from "@mui/icons-material/ArrowUpward";
import Delete from "@mui/icons-material/Delete";
import type { ReactNode } from "react";
import type { FieldErrors } from "./model";

export function ItemCard({
  noun,
  index,
  count,
  title,
  path,
  errors,
  itemErrorKeys = [],
  disabled,
  onMove,
  onRemove,
  children,
}: {
  /** "step", "parameter": in the buttons' names */
  noun: string;
  index: number;
  count: number;
  title: string;
  /** the item's path in the API's errors, e.g. `steps.1` */
  path: string;
  errors?: FieldErrors;
  /** more keys under the path whose errors are the item's own (shown above its fields) */
  itemErrorKeys?: string[];
  disabled?: boolean;
  onMove: (by: number) => void;
  onRemove: () => void;
  children: ReactNode;
}) {
  const cardErrors = [path, ...["non_field_errors", "__all__", ...itemErrorKeys].map((key) => `${path}.${key}`)].flatMap(
    (key) => errors?.[key] ?? [],
  );
  const hasErrors = Object.keys(errors ?? {}).some((key) => key === path || key.startsWith(`${path}.`));
  return (
    <Card variant="outlined" component="section" aria-label={title} sx={hasErrors ? { borderColor: "error.main" } : undefined}>
      <CardContent>
        <Stack direction="row" alignItems="center" spacing={1} sx={{ mb: 2 }}>
          <Typography variant="subtitle1" component="h3" sx={{ flexGrow: 1 }}>
            {title}
            {hasErrors ? (
              <Typography component="span" color="error" variant="body2" sx={{ ml: 1 }}>
                (has problems)
              </Typography>
            ) : null}
          </Typography>
          <Tooltip title="Move up">
            <span>
              <IconButton aria-label={`Move ${noun} ${index + 1} up`} disabled={disabled || index === 0} onClick={() => onMove(-1)}>
                <ArrowUpward />
              </IconButton>
            </span>
          </Tooltip>
          <Tooltip title="Move down">
            <span>
              <IconButton aria-label={`Move ${noun} ${index + 1} down`} disabled={disabled || index === count - 1} onClick={() => onMove(1)}>
                <ArrowDownward />
              </IconButton>
            </span>
          </Tooltip>
          <Tooltip title={`Remove this ${noun}`}>
            <span>
              <IconButton aria-label={`Remove ${noun} ${index + 1}`} disabled={disabled} onClick={onRemove}>
                <Delete />
              </IconButton>
            </span>
          </Tooltip>
        </Stack>
        {cardErrors.length > 0 ? (
          <Alert severity="error" sx={{ mb: 2 }}>
            {cardErrors.join(" ")}
          </Alert>
        ) : null}
        <Stack spacing={2}>{children}</Stack>
      </CardContent>
    </Card>
  );
}
