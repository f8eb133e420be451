import type { StreamState } from "../domain/model.js";
import type { TrimOutcome } from "./store.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";

/**
 * Bookkeeping shared by every store's retention and compaction: how many
 * head batches one retention pass looks at, and what a compaction did to the
 * stream's counters.
 */

/** Head batches one retention pass considers; a longer backlog is worked off over several passes. */
export const HEAD_BATCHES = 1000;

/** True when the stored batch is still the one the compaction plan saw. */
export function matchesPlan(rewrite: BatchRewrite, storedSize: number): boolean {
  return storedSize === rewrite.size;
}

/** The stream's state after `applied` rewrites, and what they removed. */
export function compactedState(stream: StreamState, applied: readonly BatchRewrite[]): TrimOutcome {
  let removedBytes = 0;
  let removedCount = 0;
  for (const rewrite of applied) {
    removedBytes += rewrite.size - rewrite.pieces.reduce((sum, piece) => sum + piece.bytes.length, 0);
    removedCount += rewrite.removedMessages;
  }
  return { stream: { ...stream, removedBytes: stream.removedBytes + removedBytes }, removedBytes, removedCount };
}
