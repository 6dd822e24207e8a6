/**
 * Watching an approval that a human decides elsewhere (the approval page, URL-mode
 * elicitation): it is polled until it is decided, expires, or the session ends. Polling, not a
 * subscription: the store port has no change feed, and one read a second per open URL-mode
 * approval is cheap beside the human's own pace.
 *
 * @module mcp/watch-approval
 */

import type { ApprovalView } from "../exchange/broker.js";

export interface WatchOptions {
  /** Where the approval stands now (the broker's `approvalStatus`). */
  readonly status: () => Promise<ApprovalView>;
  /** Called once, when the approval is approved or denied. */
  readonly onDecided: (view: ApprovalView) => void;
  /** False once the session is gone: the watch ends without a word. */
  readonly alive: () => boolean;
  /** How long to watch at most: the approval's own remaining life, in seconds. */
  readonly forSeconds: number;
  readonly intervalMs?: number;
}

/** How often an undecided approval is read again. */
export const WATCH_INTERVAL_MS = 1_000;

/** Starts watching; returns the function that stops it. */
export function watchApproval(options: WatchOptions): () => void {
  const interval = options.intervalMs ?? WATCH_INTERVAL_MS;
  // Counted in polls, not by the wall clock: time stays an argument (design §7).
  let polls = Math.ceil((options.forSeconds * 1000) / interval);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const poll = async () => {
    if (stopped || !options.alive() || polls-- <= 0) return;
    // A store that cannot answer now may answer at the next poll; the watch only informs.
    const view = await options.status().catch(() => undefined);
    if (stopped) return;
    if (view?.status === "approved" || view?.status === "denied") {
      stopped = true;
      options.onDecided(view);
      return;
    }
    if (view?.status === "expired") return;
    schedule();
  };
  const schedule = () => {
    timer = setTimeout(poll, interval);
    // A watch never keeps a process alive (stdio sessions end when their client goes).
    timer.unref();
  };

  void poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
