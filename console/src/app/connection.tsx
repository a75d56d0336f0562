// What the shell shows when the server or a live stream is lost: every API answer and every
// stream reports here.
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { onApiResponse } from "../api/client";

export type StreamState = "idle" | "live" | "reconnecting";

interface ConnectionValue {
  serverReachable: boolean;
  stream: StreamState;
  setStream: (state: StreamState) => void;
}

const ConnectionContext = createContext<ConnectionValue | null>(null);

export function ConnectionProvider({ children }: { children: ReactNode }) {
  const [serverReachable, setReachable] = useState(true);
  const [stream, setStream] = useState<StreamState>("idle");
  useEffect(
    () =>
      onApiResponse(({ status }) => {
        // 502/503/504 (the gateway or the database away) and no answer at all: lost
        setReachable(!(status === 0 || status === 502 || status === 503 || status === 504));
      }),
    [],
  );
  useEffect(() => {
    if (serverReachable) return undefined;
    // lost: ask the server's liveness every 3 s, and say so as soon as it answers again
    const timer = window.setInterval(async () => {
      try {
        const response = await fetch("/healthz", { cache: "no-store" });
        if (response.ok) setReachable(true);
      } catch {
        /* still away */
      }
    }, 3000);
    return () => window.clearInterval(timer);
  }, [serverReachable]);
  useEffect(() => {
    const offline = () => setReachable(false);
    window.addEventListener("offline", offline);
    return () => window.removeEventListener("offline", offline);
  }, []);
  const value = useMemo(() => ({ serverReachable, stream, setStream }), [serverReachable, stream]);
  return <ConnectionContext.Provider value={value}>{children}</ConnectionContext.Provider>;
}

export function useConnection(): ConnectionValue {
  const value = useContext(ConnectionContext);
  if (!value) throw new Error("useConnection outside ConnectionProvider");
  return value;
}
