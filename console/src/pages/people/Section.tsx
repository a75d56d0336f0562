// A titled region of a page (a section named by its heading).
import { Paper, Typography } from "@mui/material";
import type { ReactNode } from "react";

export function Section({ id, title, description, children }: { id: string; title: string; description?: ReactNode; children: ReactNode }) {
  return (
    <Paper variant="outlined" component="section" aria-labelledby={`${id}-title`} id={id} sx={{ p: 2 }}>
      <Typography variant="h6" component="h2" id={`${id}-title`}>
        {title}
      </Typography>
      {description ? (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
          {description}
        </Typography>
      ) : null}
      {children}
    </Paper>
  );
}
