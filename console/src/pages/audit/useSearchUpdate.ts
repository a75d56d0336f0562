import { useCallback, useEffect, useRef } from "react";
import { useSearchParams } from "react-router";

type Change = (current: URLSearchParams) => URLSearchParams;

/** The page's URL parameters, and a way to change them that composes: two filters committed
 * in the same moment (two debounced inputs firing together) both reach the URL. (React
 * Router's functional update starts from the parameters of the last render, so the second
 * change would undo the first.) The function keeps its identity across renders, so parts of
 * the page given it are not rendered again for nothing. */
export function useSearchUpdate() {
  const [params, setParams] = useSearchParams();
  const latest = useRef(params);
  const setter = useRef(setParams);
  const pending = useRef<{ before: string; after: URLSearchParams } | null>(null);
  useEffect(() => {
    latest.current = params;
    setter.current = setParams;
  }, [params, setParams]);
  const update = useCallback((change: Change, { replace = true }: { replace?: boolean } = {}) => {
    const rendered = latest.current.toString();
    // a change not rendered yet is where the next one starts
    const base = pending.current && pending.current.before === rendered ? pending.current.after : latest.current;
    const next = change(new URLSearchParams(base));
    pending.current = { before: rendered, after: next };
    setter.current(next, { replace });
  }, []);
  return [params, update] as const;
}
