// The frame of every signed-in page: navigation, the signed-in user and their role, the theme
// switch, and a visible banner when the server or a live stream is lost.
import {
  Alert,
  AppBar,
  Box,
  Chip,
  Divider,
  Drawer,
  IconButton,
  List,
  ListItem,
  ListItemButton,
  ListItemIcon,
  ListItemText,
  Menu,
  MenuItem,
  Toolbar,
  Tooltip,
  Typography,
  ToggleButton,
  ToggleButtonGroup,
} from "@mui/material";
import AccountCircle from "@mui/icons-material/AccountCircle";
import DarkMode from "@mui/icons-material/DarkMode";
import Dns from "@mui/icons-material/Dns";
import Group from "@mui/icons-material/Group";
import Event from "@mui/icons-material/Event";
import History from "@mui/icons-material/History";
import Key from "@mui/icons-material/Key";
import LightMode from "@mui/icons-material/LightMode";
import ListAlt from "@mui/icons-material/ListAlt";
import MenuIcon from "@mui/icons-material/Menu";
import SearchIcon from "@mui/icons-material/Search";
import MonitorHeart from "@mui/icons-material/MonitorHeart";
import NotificationsActive from "@mui/icons-material/NotificationsActive";
import MoveUp from "@mui/icons-material/MoveUp";
import SpaceDashboard from "@mui/icons-material/SpaceDashboard";
import Policy from "@mui/icons-material/Policy";
import SettingsBrightness from "@mui/icons-material/SettingsBrightness";
import Workspaces from "@mui/icons-material/Workspaces";
import { Suspense, useState, type ReactNode } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useSession } from "../auth/session";
import { canReadAudit, hasRole, type Me, type Role } from "../auth/roles";
import { useConnection } from "./connection";
import { useThemeChoice, type ThemeChoice } from "./theme";
import { PageLoading } from "../components/PageLoading";
import { KeyboardLayer, useKeyboard } from "./KeyboardLayer";

const DRAWER = 220;

interface NavItem {
  to: string;
  label: string;
  icon: ReactNode;
  role?: Role;
  /** shown only to whom it allows (a capability rather than a role) */
  allowed?: (me: Me | null) => boolean;
}

const NAV: NavItem[] = [
  { to: "/dashboard", label: "Dashboard", icon: <SpaceDashboard /> },
  { to: "/runs", label: "Runs", icon: <History /> },
  { to: "/jobs", label: "Jobs", icon: <ListAlt /> },
  { to: "/schedules", label: "Schedules", icon: <Event /> },
  { to: "/targets", label: "Targets", icon: <Dns /> },
  { to: "/groups", label: "Groups", icon: <Workspaces /> },
  { to: "/credentials", label: "Credentials", icon: <Key />, role: "admin" },
  { to: "/people", label: "People", icon: <Group />, role: "admin" },
  { to: "/alerts", label: "Alerts", icon: <NotificationsActive /> },
  { to: "/system", label: "System", icon: <MonitorHeart /> },
  { to: "/migration", label: "Migration", icon: <MoveUp />, role: "admin" },
  { to: "/audit", label: "Audit", icon: <Policy />, allowed: canReadAudit },
];

function Navigation({ onNavigate }: { onNavigate?: () => void }) {
  const { me } = useSession();
  const location = useLocation();
  return (
    <nav aria-label="Main">
      <List>
        {NAV.filter((item) => (!item.role || hasRole(me, item.role)) && (!item.allowed || item.allowed(me))).map((item) => {
          const active = location.pathname === item.to || location.pathname.startsWith(`${item.to}/`);
          return (
            // each link in a list item of its own: a list holds only items (axe: list)
            <ListItem key={item.to} disablePadding>
              <ListItemButton
                component={NavLink}
                to={item.to}
                selected={active}
                aria-current={active ? "page" : undefined}
                onClick={onNavigate}
              >
                <ListItemIcon>{item.icon}</ListItemIcon>
                <ListItemText primary={item.label} />
              </ListItemButton>
            </ListItem>
          );
        })}
      </List>
    </nav>
  );
}

function UserMenu() {
  const { me, signOut } = useSession();
  const { choice, setChoice } = useThemeChoice();
  const { openSheet } = useKeyboard();
  const navigate = useNavigate();
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  if (!me) return null;
  return (
    <>
      <Chip
        label={me.role}
        size="small"
        variant="outlined"
        sx={{ color: "inherit", borderColor: "currentColor", mr: 1, display: { xs: "none", sm: "flex" } }}
        aria-label={`Role: ${me.role}`}
      />
      <Tooltip title="Account">
        <IconButton color="inherit" onClick={(event) => setAnchor(event.currentTarget)} aria-label={`Account of ${me.username}`}>
          <AccountCircle />
          <Typography sx={{ ml: 1, display: { xs: "none", md: "block" } }}>{me.username}</Typography>
        </IconButton>
      </Tooltip>
      <Menu anchorEl={anchor} open={Boolean(anchor)} onClose={() => setAnchor(null)}>
        <Box sx={{ px: 2, py: 1 }}>
          <Typography variant="subtitle2">{me.username}</Typography>
          <Typography variant="body2" color="text.secondary">
            Role: {me.role}
            {me.is_auditor ? " · auditor" : ""}
          </Typography>
        </Box>
        <Divider />
        <Box sx={{ px: 2, py: 1 }}>
          <Typography variant="caption" component="div" id="theme-label" sx={{ mb: 0.5 }}>
            Theme
          </Typography>
          <ToggleButtonGroup
            size="small"
            exclusive
            value={choice}
            aria-labelledby="theme-label"
            onChange={(_, value: ThemeChoice | null) => value && setChoice(value)}
          >
            <ToggleButton value="system" aria-label="Follow the system">
              <SettingsBrightness fontSize="small" />
            </ToggleButton>
            <ToggleButton value="light" aria-label="Light">
              <LightMode fontSize="small" />
            </ToggleButton>
            <ToggleButton value="dark" aria-label="Dark">
              <DarkMode fontSize="small" />
            </ToggleButton>
          </ToggleButtonGroup>
        </Box>
        <Divider />
        <MenuItem
          onClick={() => {
            setAnchor(null);
            navigate("/account");
          }}
        >
          My account
        </MenuItem>
        <MenuItem
          onClick={() => {
            setAnchor(null);
            openSheet();
          }}
        >
          Keyboard shortcuts
        </MenuItem>
        <Divider />
        <MenuItem
          onClick={async () => {
            setAnchor(null);
            // the sign-in page follows: the session says the user signed out (RequireSession)
            await signOut();
          }}
        >
          Sign out
        </MenuItem>
      </Menu>
    </>
  );
}

function ConnectionBanner() {
  const { serverReachable, stream } = useConnection();
  if (!serverReachable) {
    return (
      <Alert severity="error" role="status" sx={{ borderRadius: 0 }}>
        The server cannot be reached. What you see may be out of date; this page reconnects by
        itself.
      </Alert>
    );
  }
  if (stream === "reconnecting") {
    return (
      <Alert severity="warning" role="status" sx={{ borderRadius: 0 }}>
        The live stream was lost: reconnecting. Nothing is missed; updates resume where they
        stopped.
      </Alert>
    );
  }
  return null;
}

function PaletteButton() {
  const { openPalette } = useKeyboard();
  return (
    <Tooltip title="Jump to a target, job, run or schedule (Ctrl K)">
      <IconButton color="inherit" onClick={openPalette} aria-label="Jump to" aria-keyshortcuts="Control+K Meta+K" sx={{ mr: 1 }}>
        <SearchIcon />
      </IconButton>
    </Tooltip>
  );
}

export function Shell() {
  return (
    <KeyboardLayer>
      <ShellFrame />
    </KeyboardLayer>
  );
}

function ShellFrame() {
  const [open, setOpen] = useState(false);
  return (
    <Box sx={{ display: "flex", minHeight: "100vh" }}>
      <AppBar position="fixed" sx={{ zIndex: (theme) => theme.zIndex.drawer + 1 }}>
        <Toolbar>
          <IconButton
            color="inherit"
            edge="start"
            onClick={() => setOpen(!open)}
            sx={{ mr: 1, display: { md: "none" } }}
            aria-label="Open the navigation"
          >
            <MenuIcon />
          </IconButton>
          <Typography variant="h6" component={NavLink} to="/" sx={{ color: "inherit", textDecoration: "none", flexGrow: 1 }}>
            OpsConductor
          </Typography>
          <PaletteButton />
          <UserMenu />
        </Toolbar>
      </AppBar>
      <Drawer
        variant="temporary"
        open={open}
        onClose={() => setOpen(false)}
        sx={{ display: { xs: "block", md: "none" }, "& .MuiDrawer-paper": { width: DRAWER } }}
      >
        <Toolbar />
        <Navigation onNavigate={() => setOpen(false)} />
      </Drawer>
      <Drawer
        variant="permanent"
        sx={{
          display: { xs: "none", md: "block" },
          width: DRAWER,
          flexShrink: 0,
          "& .MuiDrawer-paper": { width: DRAWER, boxSizing: "border-box" },
        }}
      >
        <Toolbar />
        <Navigation />
      </Drawer>
      <Box sx={{ flexGrow: 1, minWidth: 0 }}>
        <Toolbar />
        <ConnectionBanner />
        <Box component="main" sx={{ p: { xs: 2, md: 3 } }}>
          <Suspense fallback={<PageLoading />}>
            <Outlet />
          </Suspense>
        </Box>
      </Box>
    </Box>
  );
}
