import { useRef, useState } from "react";

/** A text input bound to a URL parameter: typing shows at once, the URL (and the query it
 * drives) follows after `ms` of quiet. Returns the text to show and the change handler. */
export function useDebouncedParam(value: string, commit: (value: string) => void, ms = 300) {
  const [draft, setDraft] = useState<string | null>(null);
  const timer = useRef(0);
  const onChange = (next: string) => {
    setDraft(next);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      commit(next);
      setDraft(null);
    }, ms);
  };
  return [draft ?? value, onChange] as const;
}
