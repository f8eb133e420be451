import type { RetentionPolicy } from "../domain/model.js";
import { planRetention } from "../domain/retention-rules.js";
import type { Entry } from "./sqlite-cache.js";
import { streamParams, type SqliteStatements } from "./sqlite-schema.js";
import type { TrimOutcome } from "./store.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import { compactedState, HEAD_BATCHES, matchesPlan } from "./trim.js";

/**
 * The SQL side of retention and compaction on SQLite, run inside the store's
 * commit round. Each writes the rows and the stream's new state; the store
 * mirrors that state in its cache.
 */

/** Removes the head batches `planRetention` lets go; null when none go. */
export function retainRows(sql: SqliteStatements, entry: Entry, policy: RetentionPolicy, now: number): TrimOutcome | null {
  const head = (sql.headBatches.all(entry.id, HEAD_BATCHES) as [number, number, number][]).map(
    ([start, bytes, appendedAt]) => ({ start, bytes, appendedAt }),
  );
  const forkLimit = entry.state.forkCount > 0 ? (sql.forkLimit.get(entry.state.path) as number | null) : null;
  const plan = planRetention(entry.state, policy, head, forkLimit, now);
  if (!plan) return null;
  sql.deleteHead.run(entry.id, plan.removeBelow);
  const state = { ...entry.state, earliest: plan.earliest, removedBytes: entry.state.removedBytes + plan.removedBytes };
  sql.updateStream.run({ ...streamParams(state), id: entry.id });
  return { stream: state, removedBytes: plan.removedBytes, removedCount: plan.removedBatches };
}

/** Replaces each batch still stored as planned by its pieces. */
export function compactRows(sql: SqliteStatements, entry: Entry, rewrites: readonly BatchRewrite[]): TrimOutcome {
  const applied: BatchRewrite[] = [];
  for (const rewrite of rewrites) {
    const size = sql.batchSize.get(entry.id, rewrite.start) as number | undefined;
    if (size === undefined || !matchesPlan(rewrite, size)) continue;
    sql.deleteBatch.run(entry.id, rewrite.start);
    for (const piece of rewrite.pieces) sql.insertBatch.run(entry.id, piece.start, piece.bytes, rewrite.appendedAt);
    applied.push(rewrite);
  }
  const outcome = compactedState(entry.state, applied);
  if (applied.length > 0) sql.updateStream.run({ ...streamParams(outcome.stream), id: entry.id });
  return outcome;
}
