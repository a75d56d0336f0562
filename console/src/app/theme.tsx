// Light and dark themes: the system's by default, switchable, remembered in this browser.
import { CssBaseline, ThemeProvider, createTheme, useMediaQuery } from "@mui/material";
import { createContext, useContext, useMemo, useState, type ReactNode } from "react";

export type ThemeChoice = "system" | "light" | "dark";
const KEY = "opsconductor.theme";

interface ThemeChoiceValue {
  choice: ThemeChoice;
  mode: "light" | "dark";
  setChoice: (choice: ThemeChoice) => void;
}

const ThemeChoiceContext = createContext<ThemeChoiceValue | null>(null);

function stored(): ThemeChoice {
  const value = window.localStorage.getItem(KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function AppThemeProvider({ children }: { children: ReactNode }) {
  const prefersDark = useMediaQuery("(prefers-color-scheme: dark)", { noSsr: true });
  const [choice, setChoiceState] = useState<ThemeChoice>(stored);
  const mode = choice === "system" ? (prefersDark ? "dark" : "light") : choice;
  const theme = useMemo(
    () =>
      createTheme({
        palette: {
          mode,
          primary: { main: mode === "dark" ? "#7cb3ff" : "#1f5fbf" },
          // colours with a contrast of 4.5:1 at least on the paper of each mode (axe)
          success: { main: mode === "dark" ? "#66bb6a" : "#1b6e20" },
          error: { main: mode === "dark" ? "#ff8a80" : "#b3261e" },
          warning: { main: mode === "dark" ? "#ffb74d" : "#8a4b00" },
          info: { main: mode === "dark" ? "#4fc3f7" : "#01579b" },
        },
        typography: { fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" },
        components: {
          MuiButton: { defaultProps: { disableElevation: true } },
          MuiTooltip: { defaultProps: { arrow: true } },
        },
      }),
    [mode],
  );
  const value = useMemo(
    () => ({
      choice,
      mode,
      setChoice: (next: ThemeChoice) => {
        window.localStorage.setItem(KEY, next);
        setChoiceState(next);
      },
    }),
    [choice, mode],
  ) as ThemeChoiceValue;
  return (
    <ThemeChoiceContext.Provider value={value}>
      <ThemeProvider theme={theme}>
        <CssBaseline enableColorScheme />
        {children}
      </ThemeProvider>
    </ThemeChoiceContext.Provider>
  );
}

export function useThemeChoice(): ThemeChoiceValue {
  const value = useContext(ThemeChoiceContext);
  if (!value) throw new Error("useThemeChoice outside AppThemeProvider");
  return value;
}
