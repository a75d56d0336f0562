import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { renderWith } from "../../test/render";
import { OutputBuffer } from "./buffer";
import { LINE_LIMIT } from "./OutputView";
import { OutputView } from "./index";

// jsdom has no layout: give the scroll area a height and rows their line height
const SIZES = { clientHeight: 400, clientWidth: 800, offsetHeight: 20, offsetWidth: 800 } as const;
const originals = Object.fromEntries(
  Object.keys(SIZES).map((key) => [key, Object.getOwnPropertyDescriptor(HTMLElement.prototype, key)]),
);
beforeAll(() => {
  for (const [key, value] of Object.entries(SIZES)) {
    Object.defineProperty(HTMLElement.prototype, key, { configurable: true, get: () => value });
  }
});
afterAll(() => {
  for (const [key, descriptor] of Object.entries(originals)) {
    if (descriptor) Object.defineProperty(HTMLElement.prototype, key, descriptor);
  }
});

function blobText(blob: Blob): Promise<string> {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.readAsText(blob);
  });
}

const sync = () => new OutputBuffer({ schedule: (flush) => flush() });

function setup(buffer = sync(), props: Partial<Parameters<typeof OutputView>[0]> = {}) {
  renderWith(<OutputView buffer={buffer} label="Output of web-01" stepNames={{ 1: "check disk" }} {...props} />);
  return { buffer, log: screen.getByRole("log", { name: "Output of web-01" }) };
}

// rendering MUI in jsdom on a busy machine is slow: generous timeouts
vi.setConfig({ testTimeout: 20_000 });

describe("OutputView", () => {
  it("says there is no output yet, in a labelled log region that does not announce every line", () => {
    const { log } = setup();
    expect(log).toHaveAttribute("aria-live", "off");
    expect(log).toHaveAttribute("tabindex", "0");
    expect(within(log).getByText("No output yet.")).toBeInTheDocument();
  });

  it("renders lines with numbers, a step header, marks stderr with a label, and keeps HTML as text", () => {
    const { buffer, log } = setup();
    act(() =>
      buffer.append([
        { step: 1, stream: "stdout", text: "<script>alert(1)</script>\n" },
        { step: 1, stream: "stderr", text: "<img src=x onerror=alert(2)>\n" },
      ]),
    );
    expect(within(log).getByText("Step 1: check disk")).toBeInTheDocument();
    expect(within(log).getByText("<script>alert(1)</script>")).toBeInTheDocument();
    expect(log.querySelector("script, img")).toBeNull();
    const errRow = within(log).getByText("<img src=x onerror=alert(2)>").closest(".oc-row")!;
    expect(within(errRow as HTMLElement).getByText("err")).toHaveAttribute("title", "standard error");
    expect(within(errRow as HTMLElement).getByText("2")).toBeInTheDocument();
    expect(screen.getByText("2 lines")).toBeInTheDocument();
  });

  it("renders ANSI colours as styled text and drops other escape sequences", () => {
    const { buffer, log } = setup();
    act(() => buffer.append({ step: null, stream: "stdout", text: "\u001b]0;title\u0007\u001b[2J\u001b[1;31mFAILED\u001b[0m done\n" }));
    const failed = within(log).getByText("FAILED");
    expect(failed.tagName).toBe("SPAN");
    expect(failed.style.color).toMatch(/^rgb/);
    expect(failed.style.fontWeight).toBe("700");
    expect(log.textContent).not.toContain("title");
    expect(log.textContent).not.toContain("[2J");
  });

  it("only puts the rows on screen into the page, even with 100,000 lines", () => {
    const { buffer, log } = setup();
    act(() => buffer.append({ step: null, stream: "stdout", text: Array.from({ length: 100_000 }, (_, i) => `line ${i + 1}`).join("\n") + "\n" }));
    expect(screen.getByText("100,000 lines")).toBeInTheDocument();
    expect(log.querySelectorAll(".oc-row").length).toBeLessThan(100);
  });

  it("caps a very long line and shows more of it on request", async () => {
    const { buffer, log } = setup();
    act(() => buffer.append({ step: null, stream: "stdout", text: "y".repeat(2_000_000) + "\n" }));
    const text = log.querySelector(".oc-text")!;
    expect(text.textContent!.replace(/[^y]/g, "").length).toBe(LINE_LIMIT);
    const more = within(log).getByRole("button", { name: /Show more of this line \(1,990,000 more characters\)/ });
    await userEvent.click(more);
    expect(log.querySelector(".oc-text")!.textContent!.replace(/[^y]/g, "").length).toBe(LINE_LIMIT + 100_000);
  });

  it("searches: counts matches, Enter / Shift+Enter move through them, the current one highlighted", async () => {
    const user = userEvent.setup();
    const { buffer, log } = setup();
    act(() => buffer.append({ step: null, stream: "stdout", text: "ok\nerror one\nfine\nERROR two and error three\n" }));
    const input = screen.getByLabelText("Search output");
    fireEvent.change(input, { target: { value: "error" } });
    input.focus();
    const status = screen.getByRole("status");
    await waitFor(() => expect(status).toHaveTextContent("1 of 3"));
    expect(log.querySelectorAll("mark")).toHaveLength(3);
    expect(log.querySelector("mark.current")!.textContent).toBe("error");
    await user.keyboard("{Enter}");
    expect(status).toHaveTextContent("2 of 3");
    expect(log.querySelector("mark.current")!.textContent).toBe("ERROR");
    await user.keyboard("{Enter}");
    expect(status).toHaveTextContent("3 of 3");
    await user.keyboard("{Enter}");
    expect(status).toHaveTextContent("1 of 3");
    await user.keyboard("{Shift>}{Enter}{/Shift}");
    expect(status).toHaveTextContent("3 of 3");
    await user.click(screen.getByRole("button", { name: "Previous match" }));
    expect(status).toHaveTextContent("2 of 3");
    fireEvent.change(input, { target: { value: "nothing" } });
    await waitFor(() => expect(status).toHaveTextContent("No matches"));
    expect(screen.getByRole("button", { name: "Next match" })).toBeDisabled();
  });

  it("stops following when the user scrolls up and offers to jump to the latest lines", async () => {
    const { buffer, log } = setup();
    act(() => buffer.append({ step: null, stream: "stdout", text: "a\n".repeat(100) }));
    expect(screen.getByRole("button", { name: "Following new output: stop" })).toHaveAttribute("aria-pressed", "true");
    // jsdom: scrollHeight 0, so the view counts as "at the bottom" until the user moves up
    Object.defineProperty(log, "scrollHeight", { configurable: true, value: 2000 });
    Object.defineProperty(log, "clientHeight", { configurable: true, value: 400 });
    log.scrollTop = 1600;
    fireEvent.scroll(log);
    log.scrollTop = 1000;
    fireEvent.scroll(log);
    expect(screen.getByRole("button", { name: "Follow new output" })).toHaveAttribute("aria-pressed", "false");
    act(() => buffer.append({ step: null, stream: "stdout", text: "b\n".repeat(7) }));
    expect(log.scrollTop).toBe(1000); // not yanked
    const jump = screen.getByRole("button", { name: "Jump to latest (7 new lines)" });
    await userEvent.click(jump);
    expect(screen.getByRole("button", { name: "Following new output: stop" })).toBeInTheDocument();
    expect(log.scrollTop).toBe(2000);
  });

  it("downloads the whole output as plain text without escape sequences", async () => {
    const created: Blob[] = [];
    const createObjectURL = vi.fn((blob: Blob) => {
      created.push(blob);
      return "blob:output";
    });
    Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() });
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    const { buffer } = setup(sync(), { downloadName: "run-42-web-01" });
    act(() => buffer.append({ step: 1, stream: "stdout", text: "\u001b[32mok\u001b[0m\n" }));
    await userEvent.click(screen.getByRole("button", { name: "Download" }));
    expect(click).toHaveBeenCalled();
    expect(await blobText(created[0])).toBe("Step 1: check disk\nok\n");
    click.mockRestore();
  });
});
