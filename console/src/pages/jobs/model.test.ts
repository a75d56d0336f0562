import { describe, expect, it } from "vitest";
import { describePath } from "./ImportPage";
import { definitionOf, draftOf, emptyDraft, emptyStep, shownInEditor, type Job } from "./model";
import { summarize } from "./VersionsPage";

describe("definitionOf", () => {
  it("sends empty nullable policy fields as null and typed numbers as numbers", () => {
    const draft = emptyDraft();
    draft.name = "x";
    draft.policy = { ...draft.policy, batch_size: "", failure_threshold_percent: "25", max_parallel: "5" };
    draft.labels = [{ key: "l", name: " team ", value: "web" }];
    const body = definitionOf(draft) as { policy: Record<string, unknown>; labels: Record<string, string> };
    expect(body.policy).toMatchObject({ batch_size: null, failure_threshold_percent: 25, max_parallel: 5, failure_threshold: null });
    expect(body.labels).toEqual({ team: "web" });
  });

  it("round-trips a job as the API shows it", () => {
    const job = {
      name: "j",
      description: "d",
      labels: { a: "b" },
      default_selector: "tag:web",
      policy: { max_parallel: 3, batch_size: 2, failure_threshold: null, failure_threshold_percent: null, run_timeout_seconds: 60, connection_retries: 1, retry_backoff_seconds: 5, allow_overlap: true },
      parameters: [{ name: "n", type: "integer", minimum: 1, default: 4 }],
      steps: [{ name: "s", kind: "script", interpreter: "sh", script: "echo {{ n }}", timeout_seconds: 5, continue_on_error: true, os_family: "linux", env: { A: "1" }, workdir: "/tmp" }],
    } as unknown as Job;
    expect(definitionOf(draftOf(job))).toEqual({
      ...job,
      parameters: [{ name: "n", type: "integer", required: true, minimum: 1, default: 4 }],
    });
  });
});

describe("shownInEditor", () => {
  const draft = { ...emptyDraft(), steps: [emptyStep("command", "a"), emptyStep("script", "b")] };
  it.each([
    ["name", true],
    ["steps.0.command", true],
    ["steps.1.script", true],
    ["steps.1.command", false], // a script step has no command input: listed in the alert
    ["steps.0.env.1X", true],
    ["steps.5.name", false],
    ["policy.max_parallel", true],
    ["policy.nonsense", false],
    ["surprise", false],
  ])("%s shown at a field: %s", (path, shown) => {
    expect(shownInEditor(draft, path)).toBe(shown);
  });
});

describe("describePath", () => {
  it("names steps and parameters by position (and name when the JSON gives it)", () => {
    expect(describePath("steps.1.command")).toBe("Step 2 › command");
    expect(describePath("parameters.0.choices", { parameters: [{ name: "channel" }] })).toBe("Parameter 1 (channel) › choices");
    expect(describePath("policy.max_parallel")).toBe("policy › max parallel");
    expect(describePath("non_field_errors")).toBe("the document");
  });
});

describe("summarize", () => {
  it("says what a version changed", () => {
    expect(summarize({ created: true })).toBe("created");
    expect(summarize({ description: { from: "a", to: "b" }, steps: { added: ["x"], removed: ["y"], changed: { z: {} }, reordered: {} } })).toBe(
      "description changed; steps: +x, −y, ~z, reordered",
    );
  });
});
