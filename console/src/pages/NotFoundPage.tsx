import { Button, Stack, Typography } from "@mui/material";
import { Link } from "react-router";
import { PageHeader } from "../components/PageHeader";

export default function NotFoundPage() {
  return (
    <Stack spacing={2} alignItems="flex-start">
      <PageHeader title="Page not found" />
      <Typography>There is no page at this address. It may have been moved or deleted.</Typography>
      <Button component={Link} to="/" variant="contained">
        Go to the start page
      </Button>
    </Stack>
  );
}
