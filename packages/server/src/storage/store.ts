import type { AppendCommand, AppendOutcome, CreateOutcome, DeleteOutcome, ResolvedCreateCommand } from "../domain/commands.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import type { RetentionPolicy, StoredBatch, StreamState, TimedBatch } from "../domain/model.js";
import type { RangeRead } from "./batches.js";

/**
 * The one storage interface. Every method is async and every rule that
 * decides an outcome lives in domain/'s pure `decide*` functions, which a
 * store calls inside its own transaction or lock. A store therefore only
 * answers for atomicity and persistence, and a networked database can
 * implement it as readily as an embedded one.
 *
 * Positions are byte positions in the stream's offset space (see
 * @rill/protocol offset.ts). A fork's own data starts at its `forkOffset`;
 * bytes below that are read from the source by the engine.
 */
export interface Store {
  /** Short name for logs, the `store` metrics label and /readyz: "memory", "sqlite", "postgres". */
  readonly kind: string;

  /** The stream's stored state, expired or not; undefined when absent. */
  getStream(path: string): Promise<StreamState | undefined>;

  /**
   * Creates the stream, or confirms an identical one exists. For forks, the
   * command's fork position is already resolved to a byte position and the
   * store atomically checks the source and counts the new fork on it.
   */
  create(command: ResolvedCreateCommand, now: number): Promise<CreateOutcome>;

  /**
   * Validates and applies an append. Resolves only once the data, the new
   * tail, the producer state and the closed flag are durable together.
   */
  append(command: AppendCommand, now: number): Promise<AppendOutcome>;

  /**
   * The stream's own stored bytes in [from, to), at most about `maxBytes`.
   * Whole append batches are returned (at least one, even past `maxBytes`)
   * unless `splitBatches` is set, in which case the cut is exact. Positions
   * that compaction emptied are skipped (RangeRead says where).
   */
  readRange(path: string, from: number, to: number, maxBytes: number, splitBatches: boolean): Promise<RangeRead>;

  /** The stream's own batches starting in [from, to), in order, at most `limit` of them. */
  scanBatches(path: string, from: number, to: number, limit: number): Promise<TimedBatch[]>;

  /**
   * Applies `policy` to the stream's head atomically (domain/retention-rules.ts
   * decides): removes whole batches below the new earliest position, never
   * what a fork still reads. Null when nothing was removed or the stream is gone.
   */
  retain(path: string, policy: RetentionPolicy, now: number): Promise<TrimOutcome | null>;

  /**
   * Replaces batches by their compacted pieces atomically. A rewrite whose
   * batch is no longer stored as planned (retention removed it) is skipped;
   * a stream that has forks is left alone (null), since they read its bytes.
   */
  compact(path: string, rewrites: readonly BatchRewrite[]): Promise<TrimOutcome | null>;

  /**
   * The stream's own stored batch holding `position` (start <= position <
   * start + length), or undefined. Batches begin and end on message
   * boundaries (docs/offsets.md), so this is where the offset rule looks.
   */
  batchAt(path: string, position: number): Promise<StoredBatch | undefined>;

  /** Records a read, which restarts a sliding TTL. */
  /**
   * `expiresAt` is when the stream expires without this touch: a store shared
   * by several servers makes the touch visible to the others before then, or
   * their sweepers would remove a stream that is being read.
   */
  touch(path: string, now: number, expiresAt?: number | null): Promise<void>;

  /**
   * Deletes the stream: hidden but kept while forks read through it,
   * otherwise removed together with any soft-deleted ancestors it was the
   * last fork of.
   */
  delete(path: string, now: number): Promise<DeleteOutcome>;

  /** Removes streams whose expiry has passed; returns their paths. */
  sweepExpired(now: number): Promise<string[]>;

  /** How many streams are stored (deleted ones kept for their forks included): for the streams-per-server limit. */
  countStreams(): Promise<number>;

  /** Every stream's state whose path starts with `prefix`, ordered by path. */
  list(prefix: string, after: string | null, limit: number): Promise<StreamState[]>;

  /**
   * Stores shared by several servers (PostgreSQL) report commits made by other
   * servers here, so this server's live readers wake up. Embedded stores,
   * which see every commit themselves, leave it out.
   *
   * `watched` lists the streams this server has live readers on. A store that
   * may have missed reports (its notification connection dropped) reports
   * each of them again once it can, with its current state, so that no
   * reader waits on a change it was never told about.
   */
  watchRemoteCommits?(listener: (change: RemoteCommit) => void, watched: () => Iterable<string>): () => void;

  /**
   * Resolves when the store is reachable and can take writes right now;
   * rejects with an error saying why not. Used by `/readyz` (which also
   * bounds it by `timeoutMs`). A store that is always ready leaves it out.
   */
  checkReady?(timeoutMs: number): Promise<void>;

  /** How many streams it holds and how many bytes it occupies, for metrics (sampled at scrape time). */
  usage?(timeoutMs: number): Promise<StoreUsage>;

  /** Write requests waiting for the next commit round (metrics). */
  readonly pendingWrites?: number;

  /** Flushes pending commits and releases resources. */
  close(): Promise<void>;
}

export interface StoreUsage {
  /** Readable streams (not soft-deleted). */
  streams: number;
  /** Bytes on disk (files, relations) or, in memory, stored bytes. */
  bytes: number;
}

/** A commit made by another server: which stream, and its new tail and closed flag. */
export interface RemoteCommit {
  path: string;
  /**
   * Where the bytes this commit added begin (the tail before it), when
   * known: a server then reads them once and hands them to all its readers.
   */
  start?: number;
  tail: number;
  closed: boolean;
  /** The stream was deleted or expired. */
  gone: boolean;
}

/** What retention or compaction removed, and the stream's state after. */
export interface TrimOutcome {
  stream: StreamState;
  removedBytes: number;
  /** Batches (retention) or messages (compaction) removed. */
  removedCount: number;
}
