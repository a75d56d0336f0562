// Follow mode: the view sticks to the bottom while lines arrive, until the user scrolls up;
// reaching the bottom again (or the Follow button) resumes it. Decided from scroll positions
// only, so the view never moves under the reader: content growing below does not scroll, and
// only a move upwards (which the follower itself never makes) stops following.

export interface ScrollMetrics {
  scrollTop: number;
  clientHeight: number;
  scrollHeight: number;
}

export interface FollowState {
  following: boolean;
  /** scrollTop at the previous scroll event. */
  lastTop: number;
  /** Output lines there were when following stopped (for "N new lines"). */
  linesAtStop: number;
}

/** Within a few pixels of the bottom (sub-pixel rounding and zoom leave a little slack). */
export function isAtBottom({ scrollTop, clientHeight, scrollHeight }: ScrollMetrics, slack = 8): boolean {
  return scrollHeight - (scrollTop + clientHeight) <= slack;
}

/** The follow state after a scroll event. */
export function afterScroll(state: FollowState, metrics: ScrollMetrics, lineCount: number): FollowState {
  const movedUp = metrics.scrollTop < state.lastTop - 1;
  if (isAtBottom(metrics) && !movedUp) return { following: true, lastTop: metrics.scrollTop, linesAtStop: lineCount };
  if (movedUp && state.following) return { following: false, lastTop: metrics.scrollTop, linesAtStop: lineCount };
  return { ...state, lastTop: metrics.scrollTop };
}

/** Lines that arrived since following stopped. */
export function newLines(state: FollowState, lineCount: number): number {
  return state.following ? 0 : Math.max(0, lineCount - state.linesAtStop);
}
