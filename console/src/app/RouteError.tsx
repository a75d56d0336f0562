// A page that failed to load or threw: said as a message with a way on, never a blank page.
import { Button, Stack } from "@mui/material";
import { useRouteError } from "react-router";
import { ErrorAlert } from "../components/ErrorAlert";

export function RouteError() {
  const error = useRouteError();
  return (
    <Stack spacing={2} sx={{ p: 3 }} alignItems="flex-start" component="main">
      <ErrorAlert error={error instanceof Error ? error : new Error("This page could not be shown.")} />
      <Button variant="contained" onClick={() => window.location.reload()}>
        Reload the page
      </Button>
    </Stack>
  );
}
