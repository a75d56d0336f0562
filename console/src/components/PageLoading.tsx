import { Box, CircularProgress } from "@mui/material";

export function PageLoading({ label = "Loading" }: { label?: string }) {
  return (
    <Box sx={{ display: "grid", placeItems: "center", py: 6 }}>
      <CircularProgress aria-label={label} />
    </Box>
  );
}
