import { Box, CircularProgress } from "@mui/material";
import { Navigate, Outlet, useLocation } from "react-router";
import { useSession } from "./session";

/** Pages behind the sign-in: without a session, to /login?next=<this page> (deep links
 * survive the sign-in), with ended=1 when a session was open and ended (the sign-in page then
 * says so). */
export function RequireSession() {
  const { me, loading, ended, signedOut } = useSession();
  const location = useLocation();
  if (loading) {
    return (
      <Box sx={{ display: "grid", placeItems: "center", minHeight: "100vh" }}>
        <CircularProgress aria-label="Loading" />
      </Box>
    );
  }
  if (!me && signedOut) return <Navigate to="/login" replace />;
  if (!me) {
    const next = encodeURIComponent(location.pathname + location.search + location.hash);
    return <Navigate to={`/login?next=${next}${ended ? "&ended=1" : ""}`} replace />;
  }
  return <Outlet />;
}
