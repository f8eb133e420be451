import type pg from "pg";
import type { RetentionPolicy, StreamState } from "../domain/model.js";
import { planRetention } from "../domain/retention-rules.js";
import type { Statements } from "./postgres-statements.js";
import type { TrimOutcome } from "./store.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import { compactedState, HEAD_BATCHES, matchesPlan } from "./trim.js";

/**
 * The SQL side of retention and compaction on PostgreSQL, run inside a commit
 * round on a stream row the round has locked. Each deletes and inserts batch
 * rows; the round writes the returned stream state with its others.
 * Batches the round has not written yet are newer than anything either
 * removes, so they can wait for the round's end.
 */

interface LockedRow {
  id: number;
  state: StreamState;
}

/** Removes the head batches `planRetention` lets go; null when none go. */
export async function retainRows(
  db: pg.ClientBase,
  sql: Statements,
  row: LockedRow,
  policy: RetentionPolicy,
  now: number,
): Promise<TrimOutcome | null> {
  const head = await db.query<{ start: number; bytes: number; appended_at: number }>({
    ...sql.headBatches,
    values: [row.id, HEAD_BATCHES],
  });
  let forkLimit: number | null = null;
  if (row.state.forkCount > 0) {
    const forks = await db.query<{ earliest: number | null }>({ ...sql.forkLimit, values: [row.state.path] });
    forkLimit = forks.rows[0]?.earliest ?? null;
  }
  const batches = head.rows.map((b) => ({ start: b.start, bytes: b.bytes, appendedAt: b.appended_at }));
  const plan = planRetention(row.state, policy, batches, forkLimit, now);
  if (!plan) return null;
  await db.query({ ...sql.deleteHead, values: [row.id, plan.removeBelow] });
  const state = { ...row.state, earliest: plan.earliest, removedBytes: row.state.removedBytes + plan.removedBytes };
  return { stream: state, removedBytes: plan.removedBytes, removedCount: plan.removedBatches };
}

/** Replaces each batch still stored as planned by its pieces. */
export async function compactRows(
  db: pg.ClientBase,
  sql: Statements,
  row: LockedRow,
  rewrites: readonly BatchRewrite[],
): Promise<TrimOutcome> {
  const { rows } = await db.query<{ start: number; size: number }>({
    ...sql.batchSizes,
    values: [row.id, rewrites.map((r) => r.start)],
  });
  const sizes = new Map(rows.map((r) => [r.start, r.size]));
  const applied = rewrites.filter((r) => sizes.has(r.start) && matchesPlan(r, sizes.get(r.start)!));
  if (applied.length > 0) {
    await db.query({ ...sql.deleteBatchesAt, values: [row.id, applied.map((r) => r.start)] });
    const pieces = applied.flatMap((r) => r.pieces.map((piece) => ({ ...piece, at: r.appendedAt })));
    await db.query({
      ...sql.insertBatches,
      values: [row.id, pieces.map((p) => p.start), pieces.map((p) => p.bytes), pieces.map((p) => p.at)],
    });
  }
  return compactedState(row.state, applied);
}
