// A secret shown once (a new API token, a generated password): read-only text with a copy
// button and the warning that it cannot be shown again. It lives only in the state of the dialog
// that shows it: closing the dialog drops it.
import { Alert, Button, Stack, TextField } from "@mui/material";
import ContentCopy from "@mui/icons-material/ContentCopy";
import { useState } from "react";

export function OnceValue({ label, value, warning }: { label: string; value: string; warning: string }) {
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
  };
  return (
    <Stack spacing={1.5}>
      <Alert severity="warning">{warning}</Alert>
      <Stack direction="row" spacing={1} alignItems="flex-start">
        <TextField
          label={label}
          value={value}
          fullWidth
          size="small"
          slotProps={{
            htmlInput: { readOnly: true, spellCheck: false, style: { fontFamily: "monospace" } },
          }}
          onFocus={(event) => event.target.select()}
        />
        <Button variant="outlined" startIcon={<ContentCopy />} onClick={copy} sx={{ flexShrink: 0 }}>
          Copy
        </Button>
      </Stack>
      <div role="status" aria-live="polite">
        {copied === "yes" ? "Copied to the clipboard." : copied === "no" ? "This browser refused to copy: select the text and copy it yourself." : ""}
      </div>
    </Stack>
  );
}

/** A strong random password (24 URL-safe characters, as the server's own generator makes). */
export function generatePassword(): string {
  const bytes = new Uint8Array(18);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}
