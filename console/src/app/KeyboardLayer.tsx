// The shell's keyboard layer: listens for the shortcuts (shortcuts.ts), and holds the shortcut
// sheet and the command palette, which the top bar and the account menu open too.
import {
  Alert,
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
} from "@mui/material";
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import { CommandPalette } from "./CommandPalette";
import { createShortcutHandler, focusPageSearch, movePageRow, SHEET, useShortcutsSetting } from "./shortcuts";

interface KeyboardValue {
  openSheet: () => void;
  openPalette: () => void;
}

const KeyboardContext = createContext<KeyboardValue>({ openSheet: () => {}, openPalette: () => {} });

export function useKeyboard(): KeyboardValue {
  return useContext(KeyboardContext);
}

function Keys({ keys }: { keys: string[] }) {
  return (
    <Box component="span" sx={{ whiteSpace: "nowrap" }}>
      {keys.map((key, index) => (
        <Box key={index} component="span">
          {index > 0 ? (keys[0] === "Ctrl" ? " + " : " then ") : null}
          <Box
            component="kbd"
            sx={{
              fontFamily: "monospace",
              px: 0.75,
              py: 0.25,
              border: 1,
              borderColor: "divider",
              borderRadius: 1,
              bgcolor: "action.hover",
            }}
          >
            {key}
          </Box>
        </Box>
      ))}
    </Box>
  );
}

export function ShortcutSheet({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [enabled] = useShortcutsSetting();
  return (
    <Dialog open={open} onClose={onClose} aria-labelledby="shortcuts-title" maxWidth="sm" fullWidth>
      <DialogTitle id="shortcuts-title">Keyboard shortcuts</DialogTitle>
      <DialogContent>
        {!enabled ? (
          <Alert severity="info" sx={{ mb: 2 }}>
            Single-key shortcuts are turned off in this browser; only the command palette (Ctrl K) works. Turn them on in My
            account.
          </Alert>
        ) : null}
        <Table size="small" aria-label="Keyboard shortcuts">
          <TableHead>
            <TableRow>
              <TableCell>Keys</TableCell>
              <TableCell>What they do</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {SHEET.map((row) => (
              <TableRow key={row.keys.join("+")}>
                <TableCell>
                  <Keys keys={row.keys} />
                </TableCell>
                <TableCell>{row.what}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
        <Box sx={{ mt: 2, color: "text.secondary", fontSize: "0.875rem" }}>
          Shortcuts never fire while you type in a field. They can be turned off in{" "}
          <Link to="/account#shortcuts" onClick={onClose}>
            My account
          </Link>
          .
        </Box>
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}

export function KeyboardLayer({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const [sheet, setSheet] = useState(false);
  const [palette, setPalette] = useState(false);

  useEffect(() => {
    const handler = createShortcutHandler({
      navigate: (path) => navigate(path),
      openSheet: () => setSheet(true),
      openPalette: () => {
        setSheet(false);
        setPalette(true);
      },
      focusSearch: () => focusPageSearch(),
      moveRow: (step) => movePageRow(step),
    });
    document.addEventListener("keydown", handler);
    return () => document.removeEventListener("keydown", handler);
  }, [navigate]);

  const value = useMemo(() => ({ openSheet: () => setSheet(true), openPalette: () => setPalette(true) }), []);
  return (
    <KeyboardContext.Provider value={value}>
      {children}
      <ShortcutSheet open={sheet} onClose={() => setSheet(false)} />
      <CommandPalette open={palette} onClose={() => setPalette(false)} />
    </KeyboardContext.Provider>
  );
}
