import type { ProducerState, StreamState } from "../domain/model.js";
import type { Entry } from "./sqlite-cache.js";
import { streamParams, type SqliteStatements } from "./sqlite-schema.js";
import { MERGE_LIMIT } from "./batches.js";

/** One batch row to be written: a single append's bytes, or a run of contiguous appends to a JSON stream. */
interface PendingBatch {
  streamId: number;
  start: number;
  length: number;
  parts: Uint8Array[];
  /** The first append's time: the row's. */
  appendedAt: number;
}

/**
 * What a SQLite commit round's appends leave to be written later, all at
 * once: an append is decided against the state the round's earlier requests
 * left and runs no SQL of its own. `flush()` writes what has collected:
 *
 * - batch rows: each run of contiguous appends to a JSON stream becomes one
 *   row (up to MERGE_LIMIT bytes), so a busy stream stores a few large rows
 *   per round and catch-up reads touch far fewer; an append to a byte stream
 *   keeps a row of its own (its boundaries are what a byte stream's reads
 *   split at);
 * - producer states: once per producer, its state after its last append;
 * - stream rows: once per stream, its state after its last append, and only
 *   when more than the tail moved (see `rowChanged`): a row's tail may lag
 *   behind its batches, and reads take the end of the last batch then
 *   (sqlite-schema.ts, schema 3). At 1,000 streams this spares a round one
 *   scattered row update, and its page in the log, per stream it touches.
 *
 * The store flushes before any other kind of request of the round (which
 * reads and writes rows itself) and before COMMIT. Until then these are also
 * what the round's next append starts from: the cache may let go of a stream
 * or its producers in between, and the database does not have them yet.
 */
export class RoundWrites {
  /** path → the stream's state after its last unflushed append, and before the first. */
  private streams = new Map<string, { entry: Entry; before: StreamState }>();
  private batches: PendingBatch[] = [];
  /** The batch each stream's next append may extend. */
  private open = new Map<number, PendingBatch>();
  /** stream id → producer id → state. */
  private producers = new Map<number, Map<string, ProducerState>>();

  constructor(private readonly sql: SqliteStatements) {}

  /** Forgets everything not flushed (the round, or the request, is being rolled back). */
  reset(): void {
    this.streams.clear();
    this.batches = [];
    this.open.clear();
    this.producers.clear();
  }

  /** The stream's state after this round's last unflushed append to it, if it had one. */
  pending(path: string): Entry | undefined {
    return this.streams.get(path)?.entry;
  }

  /** The producer's state after this round's last unflushed append by it, if it made one. */
  pendingProducer(streamId: number, producerId: string): ProducerState | undefined {
    return this.producers.get(streamId)?.get(producerId);
  }

  /**
   * An append the rules accepted: its stream's state before and after, its
   * bytes (joined to the stream's open run when `mergeable` and contiguous),
   * and its producer's new state, if it names one.
   */
  appended(
    path: string,
    before: StreamState,
    entry: Entry,
    start: number,
    data: Uint8Array,
    now: number,
    mergeable: boolean,
    producer: { id: string; state: ProducerState } | undefined,
  ): void {
    const known = this.streams.get(path);
    if (known) known.entry = entry;
    else this.streams.set(path, { entry, before });
    if (producer) {
      let byId = this.producers.get(entry.id);
      if (!byId) this.producers.set(entry.id, (byId = new Map()));
      byId.set(producer.id, producer.state);
    }
    if (data.length === 0) return;
    const run = mergeable ? this.open.get(entry.id) : undefined;
    if (run && run.start + run.length === start && run.length + data.length <= MERGE_LIMIT) {
      run.parts.push(data);
      run.length += data.length;
      return;
    }
    const batch: PendingBatch = { streamId: entry.id, start, length: data.length, parts: [data], appendedAt: now };
    this.batches.push(batch);
    if (mergeable) this.open.set(entry.id, batch);
  }

  /** Writes everything collected since the last flush: batch rows, then producer states, then stream rows. */
  flush(): void {
    for (const batch of this.batches) {
      const bytes = batch.parts.length === 1 ? batch.parts[0]! : Buffer.concat(batch.parts, batch.length);
      this.sql.insertBatch.run(batch.streamId, batch.start, bytes, batch.appendedAt);
    }
    for (const [streamId, byId] of this.producers) {
      for (const [producerId, state] of byId) this.sql.upsertProducer.run(streamId, producerId, state.epoch, state.lastSeq);
    }
    for (const { entry, before } of this.streams.values()) {
      if (rowChanged(before, entry.state)) this.sql.updateStream.run({ ...streamParams(entry.state), id: entry.id });
    }
    this.reset();
  }
}

/**
 * Whether appends took a stream's row from `before` to `after` in more than
 * what reads can tell without it: the tail (the end of the last batch), and,
 * for a stream without a TTL, the time of last access (only a TTL's sliding
 * expiry reads it; a stream with one keeps its row, and its expiry index
 * entry, current). Anything else an append changes (closing it, a Stream-Seq)
 * writes the row. `before` is what the row holds but for those two: every
 * earlier change beyond them was written.
 */
function rowChanged(before: StreamState, after: StreamState): boolean {
  if (after.ttlSeconds !== null) return true;
  for (const key of Object.keys(after) as (keyof StreamState)[]) {
    if (key !== "tail" && key !== "lastAccessAt" && after[key] !== before[key]) return true;
  }
  return false;
}
