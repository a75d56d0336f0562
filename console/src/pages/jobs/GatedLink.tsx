// A link styled as a button for an action a role may not take: a real link (opens in a new tab,
// shows its address) when the role may, GatedButton's disabled button with the reason otherwise.
import { Button, type ButtonProps } from "@mui/material";
import { Link } from "react-router";
import { GatedButton, useCan } from "../../components/Gated";
import type { Action } from "../../auth/roles";

export function GatedLink({ needs, to, ...props }: Omit<ButtonProps, "href"> & { needs: Action; to: string }) {
  const allowed = useCan(needs);
  if (!allowed) return <GatedButton needs={needs} {...props} />;
  if (props.disabled) return <Button {...props} />;
  return <Button component={Link} to={to} {...props} />;
}
