// A button the signed-in user's role may not use is disabled, with the reason on hover and
// focus (and for screen readers), never simply missing without a word.
import { Button, Tooltip, type ButtonProps } from "@mui/material";
import { useSession } from "../auth/session";
import { ACTIONS, can, type Action } from "../auth/roles";

export function GatedButton({ needs, ...props }: ButtonProps & { needs: Action }) {
  const { me } = useSession();
  if (can(me, needs)) return <Button {...props} />;
  return (
    <Tooltip title={ACTIONS[needs].reason}>
      {/* a disabled button gets no pointer events: the span carries the tooltip */}
      <span tabIndex={0} aria-label={`${String(props.children ?? "")}: ${ACTIONS[needs].reason}`}>
        <Button {...props} disabled aria-disabled />
      </span>
    </Tooltip>
  );
}

export function useCan(action: Action): boolean {
  const { me } = useSession();
  return can(me, action);
}
