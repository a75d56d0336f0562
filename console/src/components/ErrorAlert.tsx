// How every failed request is shown: the API's own message (a 403 says what the role lacks),
// the field errors that belong to no field on screen, and the request id to quote.
import { Alert, AlertTitle } from "@mui/material";
import { ApiError } from "../api/client";

const TITLES: Record<number, string> = {
  0: "The server cannot be reached",
  400: "Please check the form",
  401: "Your session has ended",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  429: "Too many requests",
};

export function errorTitle(error: unknown): string {
  if (error instanceof ApiError) return TITLES[error.status] ?? "Something went wrong";
  return "Something went wrong";
}

export function ErrorAlert({
  error,
  shownFields = [],
  onClose,
}: {
  error: unknown;
  /** Field paths shown next to their inputs: not repeated here. */
  shownFields?: string[];
  onClose?: () => void;
}) {
  if (!error) return null;
  const apiError = error instanceof ApiError ? error : null;
  const message = apiError?.message ?? (error instanceof Error ? error.message : String(error));
  const others = apiError
    ? Object.entries(apiError.fields).filter(
        ([path]) => !shownFields.some((shown) => path === shown || path.startsWith(`${shown}.`)),
      )
    : [];
  return (
    <Alert severity={apiError?.status === 403 ? "warning" : "error"} onClose={onClose} role="alert">
      <AlertTitle>{errorTitle(error)}</AlertTitle>
      {message}
      {apiError?.retryAfter ? ` Try again in ${apiError.retryAfter} s.` : null}
      {others.length > 0 && (
        <ul style={{ margin: "4px 0 0", paddingLeft: 20 }}>
          {others.map(([path, messages]) => (
            <li key={path}>
              {path ? <strong>{path}: </strong> : null}
              {messages.join(" ")}
            </li>
          ))}
        </ul>
      )}
      {apiError?.requestId ? (
        <div style={{ opacity: 0.8, fontSize: "0.8em", marginTop: 4 }}>
          Request id {apiError.requestId}
        </div>
      ) : null}
    </Alert>
  );
}
