import { describe, expect, it } from "vitest";
import { afterScroll, isAtBottom, newLines, type FollowState } from "./follow";

const following: FollowState = { following: true, lastTop: 1000, linesAtStop: 0 };
const at = (scrollTop: number, scrollHeight = 1400) => ({ scrollTop, clientHeight: 400, scrollHeight });

describe("follow mode", () => {
  it("knows the bottom with a little slack", () => {
    expect(isAtBottom(at(1000))).toBe(true);
    expect(isAtBottom(at(995))).toBe(true);
    expect(isAtBottom(at(900))).toBe(false);
  });

  it("keeps following while the follower scrolls down to new content", () => {
    expect(afterScroll(following, at(1600, 2000), 100).following).toBe(true);
  });

  it("keeps following when content grew below without a scroll up (not yet at the bottom)", () => {
    expect(afterScroll(following, at(1000, 3000), 150).following).toBe(true);
  });

  it("stops as soon as the user scrolls up, and counts what arrives after", () => {
    const stopped = afterScroll(following, at(900), 100);
    expect(stopped).toEqual({ following: false, lastTop: 900, linesAtStop: 100 });
    expect(newLines(stopped, 130)).toBe(30);
    // more content arriving does not resume it
    expect(afterScroll(stopped, at(900, 5000), 200).following).toBe(false);
    // scrolling down but not to the bottom does not either
    expect(afterScroll(stopped, at(2000, 5000), 200).following).toBe(false);
  });

  it("resumes when the user reaches the bottom again", () => {
    const stopped: FollowState = { following: false, lastTop: 500, linesAtStop: 10 };
    const resumed = afterScroll(stopped, at(4600, 5000), 90);
    expect(resumed.following).toBe(true);
    expect(newLines(resumed, 120)).toBe(0);
  });
});
