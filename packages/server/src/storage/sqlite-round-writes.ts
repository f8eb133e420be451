import type { Entry } from "./sqlite-cache.js";
import { streamParams, type SqliteStatements } from "./sqlite-schema.js";
import { MERGE_LIMIT } from "./batches.js";

/** A stream's contiguous appends in one round, each in its own row until the round merges them. */
interface MergeRun {
  streamId: number;
  start: number;
  length: number;
  parts: Uint8Array[];
  /** The first append's time: the merged row's. */
  appendedAt: number;
}

/**
 * What a SQLite commit round writes once rather than at every append.
 *
 * - Stream rows: an append leaves its stream's new state here; the row is
 *   written once, from the state after the round's last append to it, before
 *   any other kind of request of the round (which reads and writes rows
 *   itself) and before COMMIT. The pending state is also what the round's next
 *   append to the stream starts from: the cache may let go of the stream in
 *   between, and the row is not written yet.
 * - Merged batches: every append writes its own batch row (inside its
 *   savepoint, so a failing one fails alone); before COMMIT each run of two or
 *   more contiguous rows of a JSON stream becomes one row (up to MERGE_LIMIT
 *   bytes), so a busy stream stores a few large rows per round and catch-up
 *   reads touch far fewer. Merging once is linear in the round's bytes
 *   (merging into the row at every append rewrote the growing blob each time).
 */
export class RoundWrites {
  private dirty = new Map<string, Entry>();
  private runs: MergeRun[] = [];
  /** The run each stream's next append may extend. */
  private open = new Map<number, MergeRun>();

  constructor(
    private readonly sql: SqliteStatements,
    /** Runs the statements in a savepoint; a failure rolls back just them and is swallowed. */
    private readonly tryIsolated: (statements: () => void) => void,
  ) {}

  /** A new round. */
  reset(): void {
    this.dirty.clear();
    this.runs = [];
    this.open.clear();
  }

  /** The stream's state after this round's last append to it, if it had one. */
  pending(path: string): Entry | undefined {
    return this.dirty.get(path);
  }

  /** A committed append (its batch row written): its stream's new state, and its row for merging when `mergeable`. */
  appended(path: string, entry: Entry, start: number, data: Uint8Array, now: number, mergeable: boolean): void {
    this.dirty.set(path, entry);
    if (data.length === 0 || !mergeable) return;
    const run = this.open.get(entry.id);
    if (run && run.start + run.length === start && run.length + data.length <= MERGE_LIMIT) {
      run.parts.push(data);
      run.length += data.length;
      return;
    }
    const fresh: MergeRun = { streamId: entry.id, start, length: data.length, parts: [data], appendedAt: now };
    this.runs.push(fresh);
    this.open.set(entry.id, fresh);
  }

  /** The stream's rows were rewritten or removed: later appends of the round must not extend them. */
  closeRun(streamId: number): void {
    this.open.delete(streamId);
  }

  /** Writes the row of every stream appended to since the last time. */
  flushStreamRows(): void {
    for (const { id, state } of this.dirty.values()) this.sql.updateStream.run({ ...streamParams(state), id });
    this.dirty.clear();
  }

  /** Before COMMIT: the pending stream rows, then the merged batches. */
  finish(): void {
    this.flushStreamRows();
    for (const run of this.runs) {
      if (run.parts.length < 2) continue;
      const end = run.start + run.length;
      // A later request of the round removed or rewrote some of the rows (a delete, retention, compaction):
      // the run stays as it is. So does one SQLite refuses to merge: separate rows lose nothing.
      if (Number(this.sql.countBatchesIn.get(run.streamId, run.start, end)) !== run.parts.length) continue;
      this.tryIsolated(() => {
        this.sql.deleteBatchesIn.run(run.streamId, run.start, end);
        this.sql.insertBatch.run(run.streamId, run.start, Buffer.concat(run.parts, run.length), run.appendedAt);
      });
    }
    this.runs = [];
    this.open.clear();
  }
}
