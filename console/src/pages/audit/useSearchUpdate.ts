import { useEffect, useRef } from "react";
import { useSearchParams } from "react-router";

/** The page's URL parameters, and a way to change them that composes: two filters committed
 * in the same moment (two debounced inputs firing together) both reach the URL. (React
 * Router's functional update starts from the parameters of the last render, so the second
 * change would undo the first.) */
export function useSearchUpdate() {
  const [params, setParams] = useSearchParams();
  const latest = useRef(params);
  const pending = useRef<{ before: string; after: URLSearchParams } | null>(null);
  useEffect(() => {
    latest.current = params;
  }, [params]);
  const update = (change: (current: URLSearchParams) => URLSearchParams, { replace = true }: { replace?: boolean } = {}) => {
    const rendered = latest.current.toString();
    // a change not rendered yet is where the next one starts
    const base = pending.current && pending.current.before === rendered ? pending.current.after : latest.current;
    const next = change(new URLSearchParams(base));
    pending.current = { before: rendered, after: next };
    setParams(next, { replace });
  };
  return [params, update] as const;
}
