import { isExpired, type StreamState } from "../domain/model.js";
import type { Entry, StreamCache } from "./sqlite-cache.js";
import { streamParams, type SqliteStatements } from "./sqlite-schema.js";

/**
 * Persists a delete plan (domain/delete-rules.ts), then mirrors it in the
 * cache; runs inside the SQLite store's commit round. A removed stream's
 * batches go in the same transaction, so deleting a very large stream holds
 * its round (and the event loop) for as long as SQLite takes to drop them.
 */
export function applyDeletePlan(sql: SqliteStatements, cache: StreamCache, plan: { remove: string[]; update: StreamState[] }): void {
  const removed: Entry[] = [];
  for (const path of plan.remove) {
    const entry = cache.entry(path);
    if (!entry) continue;
    sql.deleteBatches.run(entry.id);
    sql.deleteProducers.run(entry.id);
    sql.deleteStream.run(entry.id);
    removed.push(entry);
  }
  const updated: Entry[] = [];
  for (const state of plan.update) {
    const entry = cache.entry(state.path);
    if (!entry) continue;
    sql.updateStream.run({ ...streamParams(state), id: entry.id });
    updated.push({ id: entry.id, state });
  }
  for (const entry of removed) {
    cache.remember(entry.state.path, null);
    cache.forgetProducers(entry.id);
  }
  for (const entry of updated) cache.remember(entry.state.path, entry);
}

/** Expired streams a sweep removes now, at most `limit` (soft-deleted ones stay until their forks go). */
export function expiredStreams(sql: SqliteStatements, cache: StreamCache, now: number, limit: number): string[] {
  const candidates = sql.expiredPaths.all(now, limit) as { path: string }[];
  return candidates.flatMap(({ path }) => {
    const entry = cache.entry(path);
    return entry && !entry.state.softDeleted && isExpired(entry.state, now) ? [path] : [];
  });
}
