// The audit pages' tabs (records, compliance report) and what someone who may not read the trail
// sees instead of a broken page.
import { Tab, Tabs } from "@mui/material";
import { Link, useLocation } from "react-router";

export function AuditTabs() {
  const { pathname } = useLocation();
  const value = pathname.startsWith("/audit/report") ? "/audit/report" : "/audit";
  return (
    <Tabs value={value} sx={{ mb: 2 }} aria-label="Audit views">
      <Tab label="Records" value="/audit" component={Link} to="/audit" />
      <Tab label="Compliance report" value="/audit/report" component={Link} to="/audit/report" />
    </Tabs>
  );
}
