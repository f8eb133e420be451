import type { ProducerState, StreamState } from "../domain/model.js";
import type { SqliteStatements } from "./sqlite-schema.js";
import { rowToState, type StreamRow } from "./stream-row.js";

/** Stands for "this stream has no producer states" (see StreamCache.producers). */
const NO_PRODUCERS = Symbol("no producers");

/** A stream as cached: its row id (batches and producers hang off it) and its state. */
export interface Entry {
  id: number;
  state: StreamState;
}

/**
 * The SQLite store's in-memory copy of stream states and their producer
 * states, loaded from the database on a miss. It holds no rules of its own:
 * the store keeps it equal to the database by changing it only together with
 * the SQL that persists the change, and clears it when a statement fails.
 */
export class StreamCache {
  /** path → entry, or null when known to be absent. Iteration order is least recently used first. */
  private readonly streams = new Map<string, Entry | null>();
  /**
   * stream id → producer id → state, or null when known to be absent.
   * NO_PRODUCERS marks a stream known to have none (just created): a map of
   * its own is made only once a producer writes, so an idle stream costs no
   * empty Map.
   */
  private readonly producers = new Map<number, Map<string, ProducerState | null> | typeof NO_PRODUCERS>();

  constructor(
    private readonly sql: SqliteStatements,
    private readonly maxCached: number,
  ) {}

  /** The stream's entry, from the cache or (then cached) from the database. */
  entry(path: string): Entry | null {
    const cached = this.streams.get(path);
    if (cached !== undefined) {
      this.streams.delete(path);
      this.streams.set(path, cached);
      return cached;
    }
    const row = this.sql.selectStream.get(path) as StreamRow<number> | undefined;
    const entry = row ? { id: row.id, state: rowToState(row) } : null;
    this.streams.set(path, entry);
    if (this.streams.size > this.maxCached) this.trim();
    return entry;
  }

  /** Records a stream's new entry (null: it is gone) as most recently used. */
  remember(path: string, entry: Entry | null): void {
    this.streams.delete(path);
    this.streams.set(path, entry);
  }

  /** The producer's state, from the cache or (then cached) from the database. */
  producer(streamId: number, producerId: string): ProducerState | undefined {
    if (this.producers.get(streamId) === NO_PRODUCERS) return undefined;
    const byId = this.producersOf(streamId);
    const cached = byId.get(producerId);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.sql.selectProducer.get(streamId, producerId) as { epoch: number; last_seq: number } | undefined;
    const state = row ? { epoch: row.epoch, lastSeq: row.last_seq } : null;
    byId.set(producerId, state);
    return state ?? undefined;
  }

  rememberProducer(streamId: number, producerId: string, state: ProducerState): void {
    this.producersOf(streamId).set(producerId, state);
  }

  /** A stream just created has no producer states: none need loading. */
  rememberNoProducers(streamId: number): void {
    this.producers.set(streamId, NO_PRODUCERS);
  }

  forgetProducers(streamId: number): void {
    this.producers.delete(streamId);
  }

  /** Drops everything, to be reloaded from the database. */
  clear(): void {
    this.streams.clear();
    this.producers.clear();
  }

  /**
   * Evicts least recently used streams beyond the cache size. Safe at any
   * point, even mid-round: an evicted stream reloads from the database, which
   * inside a round already holds the round's earlier writes.
   */
  trim(): void {
    if (this.streams.size <= this.maxCached) return;
    for (const [path, entry] of this.streams) {
      if (this.streams.size <= this.maxCached) break;
      this.streams.delete(path);
      if (entry) this.producers.delete(entry.id);
    }
  }

  private producersOf(streamId: number): Map<string, ProducerState | null> {
    const byId = this.producers.get(streamId);
    if (byId !== undefined && byId !== NO_PRODUCERS) return byId;
    const created = new Map<string, ProducerState | null>();
    this.producers.set(streamId, created);
    return created;
  }
}
