import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWith } from "../../test/render";
import { CheckState, HEALTH, HealthStatus, HostKeyState } from "./health";

describe("health status", () => {
  it.each([
    ["healthy", "Healthy", "CheckCircleIcon"],
    ["unreachable", "Unreachable", "CloudOffIcon"],
    ["auth_failed", "Auth failed", "LockPersonIcon"],
    ["host_key_unknown", "Host key pending", "KeyIcon"],
    ["host_key_mismatch", "Host key changed", "KeyOffIcon"],
    ["scope_refused", "Outside credential scope", "GppBadIcon"],
    ["error", "Error", "ErrorIcon"],
    ["unknown", "Not checked", "HelpOutlineIcon"],
  ])("shows %s as an icon and words", (status, words, icon) => {
    const { container } = renderWith(<HealthStatus status={status} />);
    expect(screen.getByText(words)).toBeInTheDocument();
    expect(container.querySelector(`[data-testid="${icon}"]`)).not.toBeNull();
  });

  it("gives each status its own words and icon: no two look alike", () => {
    const labels = Object.values(HEALTH).map((look) => look.label);
    expect(new Set(labels).size).toBe(labels.length);
    const icons = Object.values(HEALTH).map((look) => look.Icon);
    expect(new Set(icons).size).toBe(icons.length);
  });

  it("shows a target never checked (empty status) as not checked, and an unknown status by its name", () => {
    renderWith(
      <>
        <HealthStatus status="" />
        <HealthStatus status="melted" />
      </>,
    );
    expect(screen.getByText("Not checked")).toBeInTheDocument();
    expect(screen.getByText("melted")).toBeInTheDocument();
  });

  it("shows a check still in progress as queued or checking, and a finished one by its verdict", () => {
    renderWith(
      <>
        <CheckState state="queued" status="" />
        <CheckState state="running" status="" />
        <CheckState state="finished" status="auth_failed" />
      </>,
    );
    expect(screen.getByText("Queued")).toBeInTheDocument();
    expect(screen.getByText("Checking…")).toBeInTheDocument();
    expect(screen.getByText("Auth failed")).toBeInTheDocument();
  });

  it("shows a host key's trust state in words", () => {
    renderWith(
      <>
        <HostKeyState state="trusted" />
        <HostKeyState state="pending" />
        <HostKeyState state="rejected" />
      </>,
    );
    expect(screen.getByText("Trusted")).toBeInTheDocument();
    expect(screen.getByText("Pending approval")).toBeInTheDocument();
    expect(screen.getByText("Rejected")).toBeInTheDocument();
  });
});
