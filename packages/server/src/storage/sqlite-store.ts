import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { AppendCommand, AppendOutcome, CreateOutcome, DeleteOutcome } from "../domain/commands.js";
import { decideAppend } from "../domain/append-rules.js";
import { decideCreate } from "../domain/create-rules.js";
import { planDelete } from "../domain/delete-rules.js";
import { ProtocolError } from "../domain/errors.js";
import type { RetentionPolicy, StreamState } from "../domain/model.js";
import { batchHolding, EMPTY_READ, mayMergeBatches, sliceBatches, type RangeRead } from "./batches.js";
import { recordCommit } from "../metrics/store-metrics.js";
import { StreamCache, type Entry } from "./sqlite-cache.js";
import { SqliteBatchReads } from "./sqlite-batch-reads.js";
import { RoundWrites } from "./sqlite-round-writes.js";
import { checkWritable, sqliteUsage } from "./sqlite-health.js";
import { enableIncrementalVacuum, migrate, prepareStatements, streamParams, type SqliteStatements } from "./sqlite-schema.js";
import type { Store, StoreUsage, TrimOutcome } from "./store.js";
import type { ResolvedCreateCommand } from "../domain/commands.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import type { StoredBatch, TimedBatch } from "../domain/model.js";
import { applyDeletePlan, expiredStreams } from "./sqlite-delete.js";
import { compactRows, retainRows } from "./sqlite-trim.js";
import { rowToState, type StreamRow } from "./stream-row.js";
import type { CommitBacklogLimits } from "./commit-backlog.js";
import { CommitQueue, type Touches } from "./commit-queue.js";
import { WalSync } from "./sqlite-wal-sync.js";
import { WalCheckpointer } from "./sqlite-checkpointer.js";
import { UnsyncedRounds } from "./sqlite-unsynced.js";
import type { Op, Settled } from "./commit-requests.js";

export interface SqliteStoreOptions {
  /** Directory holding `rill.db` (and its WAL); created when missing. */
  dataDir: string;
  /** How long a read's last-access time may stay in memory only (ms). */
  touchFlushMs?: number;
  /** Stream states (with their producer states) kept in memory. */
  maxCachedStreams?: number;
  /** Most streams one `sweepExpired` call removes; the engine sweeps again later. */
  sweepLimit?: number;
  /** How long to wait for a lock held by another connection (ms). */
  busyTimeoutMs?: number;
  /** Bound on appends waiting to be committed (count and bytes; 0: none). */
  commitQueue?: CommitBacklogLimits;
}

/** [start, bytes]: batch reads use raw rows, which skips building an object per row. */
type BatchRow = [number, Uint8Array];
/** Rounds committed and awaiting their log sync at once: the next commits while the previous one syncs. */
const ROUNDS_IN_FLIGHT = 2;
/** What the shared batch cache may hold. */
const BATCH_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The durable store: one SQLite database in WAL mode, where a commit is on
 * disk before it is acknowledged. The log is synced after COMMIT on libuv's
 * thread pool (sqlite-wal-sync.ts), so the event loop keeps serving requests
 * while the disk flushes, and the next round may commit meanwhile
 * (ROUNDS_IN_FLIGHT). Until a round and every earlier one are synced, reads
 * see its streams as the oldest unsynced round found them (sqlite-unsynced.ts),
 * and its requests are not settled; rounds settle in the order they started.
 * Rounds that remove data (deletes, sweeps, retention, compaction, a create
 * replacing an expired stream) sync on the event loop instead, as
 * `synchronous=FULL` would: reads of removed rows could not be hidden.
 *
 * Writes (create, append, delete, sweep) go through a commit queue
 * (commit-queue.ts, `linger` policy). Everything queued in one event-loop
 * turn is applied in a single transaction — one fsync for the whole round,
 * across streams — in arrival order, each request decided by the engine's
 * pure rules against the state left by the requests before it; an append
 * runs no SQL of its own, and what the round's appends leave is written once
 * (sqlite-round-writes.ts). A request the rules refuse fails alone; the round
 * goes on. A statement that fails sends the round through again with a
 * savepoint per request, so that request fails alone too.
 *
 * Stream and producer states are cached in memory. The cache mirrors the
 * database exactly: it changes only together with the SQL that persists the
 * change, is read and written only by synchronous code (a round runs start to
 * finish without yielding, so nothing observes a half-applied round), and is
 * dropped whenever a statement or a transaction fails, to be reloaded.
 *
 * Last-access times (sliding TTLs) are the one exception: reads record them
 * in the commit queue's memory and the next round persists them (a timer
 * forces a round within `touchFlushMs`). A crash can lose those touches, which only makes the
 * affected TTLs run out up to `touchFlushMs` earlier than they would have.
 *
 * The store assumes it is the only writer of its database: run one Rill
 * process per data directory.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite";

  private readonly db: Database.Database;
  private readonly dataDir: string;
  private readonly sweepLimit: number;
  private readonly commits: CommitQueue;
  /** Stream rows and merged batches the current round writes once, before COMMIT (sqlite-round-writes.ts). */
  private readonly writes: RoundWrites;
  private closed = false;
  /** The current round removed batches: its end runs an incremental vacuum. */
  private freedPages = false;
  /** Syncs the log after COMMIT off the event loop; null: `synchronous=FULL` does it inside COMMIT. */
  private readonly walSync: WalSync | null;
  /** Copies the log into the database file on a worker thread (sqlite-checkpointer.ts). */
  private readonly checkpointer: WalCheckpointer;
  /** Committed rounds awaiting their log sync, and what reads see of their streams meanwhile. */
  private readonly unsynced = new UnsyncedRounds();
  /** The current round's transaction began (its failure came from a statement inside it). */
  private began = false;
  /** The current round removed rows: it is synced before it returns. */
  private removing = false;
  /** A sync of the log failed: what was committed may not be on disk, so nothing more is accepted. */
  private broken: unknown = null;

  private readonly sql: SqliteStatements;
  private readonly cache: StreamCache;
  /** Batch reads, large batches read more than once lately shared by every reader (sqlite-batch-reads.ts). */
  private readonly batchReads: SqliteBatchReads;

  constructor(options: SqliteStoreOptions) {
    this.sweepLimit = options.sweepLimit ?? 1000;
    this.commits = new CommitQueue({
      store: "sqlite",
      policy: "linger",
      touchFlushMs: options.touchFlushMs ?? 1000,
      limits: options.commitQueue,
      maxRoundsInFlight: ROUNDS_IN_FLIGHT,
      runRound: (ops, touches) => this.runRound(ops, touches),
    });
    this.dataDir = options.dataDir;
    mkdirSync(options.dataDir, { recursive: true });
    this.db = new Database(join(options.dataDir, "rill.db"));
    try {
      this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      // Before WAL mode: a new database must have it before anything is written.
      enableIncrementalVacuum(this.db);
      const mode = this.db.pragma("journal_mode = WAL", { simple: true });
      if (String(mode).toLowerCase() !== "wal") throw new Error(`SQLite refused WAL mode (journal_mode=${String(mode)})`);
      this.db.pragma("synchronous = FULL");
      migrate(this.db);
      this.walSync = WalSync.open(join(options.dataDir, "rill.db"));
      // With the log synced after each COMMIT, COMMIT itself need not sync it.
      if (this.walSync) this.db.pragma("synchronous = NORMAL");
      this.sql = prepareStatements(this.db);
      this.batchReads = new SqliteBatchReads(this.sql, BATCH_CACHE_BYTES);
      this.writes = new RoundWrites(this.sql);
      this.cache = new StreamCache(this.sql, options.maxCachedStreams ?? 10_000);
      this.checkpointer = new WalCheckpointer(this.db, join(options.dataDir, "rill.db"));
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** Opens (creating when needed) the store kept in `<dataDir>/rill.db`. */
  static async open(dataDir: string, options: Omit<SqliteStoreOptions, "dataDir"> = {}): Promise<SqliteStore> {
    return new SqliteStore({ ...options, dataDir });
  }

  async getStream(path: string): Promise<StreamState | undefined> {
    const entry = this.visible(path);
    return entry ? this.withTouch(entry.state) : undefined;
  }

  create(command: ResolvedCreateCommand, now: number): Promise<CreateOutcome> {
    return this.enqueue({ kind: "create", command, now });
  }

  append(command: AppendCommand, now: number): Promise<AppendOutcome> {
    return this.enqueue({ kind: "append", command, now });
  }

  async readRange(path: string, from: number, to: number, maxBytes: number, splitBatches: boolean): Promise<RangeRead> {
    const entry = this.visible(path);
    if (!entry || from >= to) return EMPTY_READ(from);
    const { starts, chunks } = this.batchReads.window(entry.id, from, to, maxBytes);
    return sliceBatches(starts, chunks, from, to, maxBytes, splitBatches);
  }

  async batchAt(path: string, position: number): Promise<StoredBatch | undefined> {
    const entry = this.visible(path);
    if (!entry) return undefined;
    const row = this.sql.batchAtOrBefore.get(entry.id, position) as BatchRow | undefined;
    return row ? batchHolding([row[0]], [row[1]], position) : undefined;
  }

  async scanBatches(path: string, from: number, to: number, limit: number): Promise<TimedBatch[]> {
    const entry = this.visible(path);
    if (!entry) return [];
    const rows = this.sql.scanBatches.all(entry.id, from, to, limit) as [number, Uint8Array, number][];
    return rows.map(([start, bytes, appendedAt]) => ({ start, bytes, appendedAt }));
  }

  retain(path: string, policy: RetentionPolicy, now: number): Promise<TrimOutcome | null> {
    return this.enqueue({ kind: "retain", path, policy, now });
  }

  compact(path: string, rewrites: readonly BatchRewrite[]): Promise<TrimOutcome | null> {
    return this.enqueue({ kind: "compact", path, rewrites });
  }

  async touch(path: string, now: number): Promise<void> {
    const entry = this.visible(path);
    if (!entry || entry.state.ttlSeconds === null || now <= entry.state.lastAccessAt) return;
    this.commits.touch(path, now);
  }

  delete(path: string, _now: number): Promise<DeleteOutcome> {
    return this.enqueue({ kind: "delete", path });
  }

  sweepExpired(now: number): Promise<string[]> {
    return this.enqueue({ kind: "sweep", now });
  }

  async countStreams(): Promise<number> {
    return (this.sql.countStreams.get() as { n: number }).n;
  }

  async list(prefix: string, after: string | null, limit: number): Promise<StreamState[]> {
    if (limit <= 0) return [];
    const rows = this.sql.list.all({ prefix, after, limit }) as StreamRow<number>[];
    const states: StreamState[] = [];
    for (const row of rows) {
      const hidden = this.unsynced.hiddenEntry(row.path);
      const state = hidden === undefined ? rowToState(row) : hidden?.state;
      if (state) states.push(this.withTouch(state));
    }
    return states;
  }

  async checkReady(): Promise<void> {
    if (this.broken !== null) throw this.broken;
    checkWritable(this.db, this.closed);
  }

  async usage(): Promise<StoreUsage> {
    if (this.closed) throw new Error("the SQLite store is closed");
    return sqliteUsage(this.db, this.dataDir);
  }

  get pendingWrites(): number {
    return this.commits.pending;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Queued requests and touches are committed first (or fail, if the disk refuses).
    await this.commits.close();
    await this.checkpointer.close();
    this.db.close();
    this.walSync?.close();
  }

  // ---------------------------------------------------------------- commit rounds

  private enqueue<T>(op: Op): Promise<T> {
    return this.commits.enqueue<T>(op);
  }

  /** Commits a round's touches and requests (commitRound), then makes them durable; the queue settles them from the results. */
  private runRound(ops: Op[], touches: Touches): Settled[] | Promise<Settled[]> {
    if (this.broken !== null) throw this.broken;
    let committed: { results: Settled[]; committingAt: number };
    try {
      committed = this.commitRound(ops, touches, false);
    } catch (error) {
      // A statement failed (no savepoint per append tells whose): again, a savepoint per request, so that one
      // fails alone (a failure of the whole transaction fails the round). One that could not BEGIN is not retried.
      if (!this.began) throw error;
      committed = this.commitRound(ops, touches, true);
    }
    const { results, committingAt } = committed;
    this.cache.trim();
    this.checkpointer.committed(ops);
    if (this.walSync === null || this.removing) {
      this.walSync?.flushNow();
      // Everything committed so far is on disk now, rounds still awaiting their own sync included.
      this.unsynced.allSynced();
      recordCommit("sqlite", committingAt);
      return results;
    }
    return this.unsynced.pending(this.walSync.flush()).then(
      () => {
        recordCommit("sqlite", committingAt);
        return results;
      },
      (error: unknown) => {
        // What the round committed may never reach the disk: refuse everything from now on (and /readyz says so).
        this.broken = error;
        throw error;
      },
    );
  }

  /**
   * One transaction from BEGIN to COMMIT, synchronous, so no other code sees the cache or the database
   * mid-round. The fast pass (`isolate` false) runs appends without savepoints, their writes left to
   * RoundWrites (the rules refuse before anything is written); `isolate` puts every request in a savepoint
   * with its writes. A failure rolls the whole transaction back, drops the cache and is rethrown.
   */
  private commitRound(ops: Op[], touches: Touches, isolate: boolean): { results: Settled[]; committingAt: number } {
    const results: Settled[] = [];
    this.writes.reset();
    this.freedPages = false;
    this.removing = false;
    this.unsynced.begin();
    this.began = false;
    try {
      this.sql.begin.run();
      this.began = true;
      this.persistTouches(touches);
      for (const op of ops) results.push(isolate || op.kind !== "append" ? this.applyIsolated(op) : this.applyUnisolated(op));
      this.writes.flush();
      const committingAt = performance.now();
      // Pages that retention or compaction freed go back to the file system.
      // (exec, not a prepared statement: each step of that statement frees just one page.)
      if (this.freedPages) this.db.exec("PRAGMA incremental_vacuum");
      this.freedPages = false;
      this.sql.commit.run();
      return { results, committingAt };
    } catch (error) {
      try {
        if (this.db.inTransaction) this.sql.rollback.run();
      } catch {
        // The round's own error is the one to report; SQLite rolls back anyway
        // when the next transaction begins or the connection closes.
      }
      this.writes.reset();
      this.cache.clear();
      throw error;
    }
  }

  /** What reads see of a stream: as it was before the oldest round being synced that changed it, if one did. */
  private visible(path: string): Entry | undefined {
    const hidden = this.unsynced.hiddenEntry(path);
    return hidden === undefined ? (this.cache.entry(path) ?? undefined) : (hidden ?? undefined);
  }

  /**
   * Runs one request in a savepoint, its deferred writes included: a refusal by the rules or a failure
   * of this request alone rolls back only its own statements; if SQLite abandoned the whole transaction,
   * the error is rethrown to fail the round.
   */
  private applyIsolated(op: Op): Settled {
    // What earlier requests left to write goes first: this request reads and writes rows itself.
    this.writes.flush();
    this.sql.savepoint.run();
    try {
      const value = this.apply(op);
      this.writes.flush();
      this.sql.release.run();
      return { ok: true, value };
    } catch (error) {
      if (!this.db.inTransaction) throw error;
      this.sql.rollbackToSavepoint.run();
      this.sql.release.run();
      this.writes.reset();
      // The request may have failed between its SQL and its cache update.
      if (!(error instanceof ProtocolError)) this.cache.clear();
      return { ok: false, error };
    }
  }

  /** An append of the fast pass: a refusal by the rules fails it alone; any other failure fails the pass. */
  private applyUnisolated(op: Op): Settled {
    try {
      return { ok: true, value: this.apply(op) };
    } catch (error) {
      if (error instanceof ProtocolError) return { ok: false, error };
      throw error;
    }
  }

  private apply(op: Op): unknown {
    switch (op.kind) {
      case "create":
        return this.applyCreate(op.command, op.now);
      case "append":
        return this.applyAppend(op.command, op.now);
      case "delete":
        return this.applyDelete(op.path);
      case "sweep":
        return this.applySweep(op.now);
      case "retain":
        return this.applyRetain(op.path, op.policy, op.now);
      case "compact":
        return this.applyCompact(op.path, op.rewrites);
    }
  }

  private applyCreate(command: ResolvedCreateCommand, now: number): CreateOutcome {
    const existing = this.cache.entry(command.path);
    const source = command.fork ? this.cache.entry(command.fork.source) : null;
    const decision = decideCreate(existing?.state, source?.state, command, now);
    if (decision.kind === "exists") return { created: false, stream: decision.stream };
    // What reads see of these streams until the round is synced: the entries the rules were just given.
    this.unsynced.remember(command.path, existing);
    if (command.fork) this.unsynced.remember(command.fork.source, source);

    // The rules let a create replace only an expired stream no fork reads
    // through; it goes the way a delete would, so its source loses a fork.
    if (existing) this.deleteStream(existing.state.path);

    const stream = decision.stream;
    const id = Number(this.sql.insertStream.run(streamParams(stream)).lastInsertRowid);
    if (command.data.length > 0) this.sql.insertBatch.run(id, stream.forkOffset, command.data, now);
    let forkSource: Entry | null = null;
    if (command.fork) {
      const current = this.cache.entry(command.fork.source)!;
      forkSource = { id: current.id, state: { ...current.state, forkCount: current.state.forkCount + 1 } };
      this.sql.updateStream.run({ ...streamParams(forkSource.state), id: forkSource.id });
    }

    this.cache.remember(stream.path, { id, state: stream });
    this.cache.rememberNoProducers(id);
    if (forkSource) this.cache.remember(forkSource.state.path, forkSource);
    return { created: true, stream };
  }

  private applyAppend(command: AppendCommand, now: number): AppendOutcome {
    // A stream appended to earlier in the round: its rows are not written yet, and the cache may have let go of it.
    const entry = this.writes.pending(command.path) ?? this.cache.entry(command.path);
    const producerId = command.producer?.id;
    const known =
      entry && producerId !== undefined
        ? (this.writes.pendingProducer(entry.id, producerId) ?? this.cache.producer(entry.id, producerId))
        : undefined;
    const decision = decideAppend(entry?.state, known, command, now);
    if (decision.kind === "duplicate") {
      return { kind: "duplicate", stream: decision.stream, start: decision.stream.tail, producer: decision.echo };
    }
    // The entry before this round, unless an earlier append of the round came first (then that one is kept).
    this.unsynced.remember(command.path, entry!);
    const next = { id: entry!.id, state: decision.next };
    const producer = producerId !== undefined && decision.producer ? { id: producerId, state: decision.producer } : undefined;
    const mergeable = mayMergeBatches(decision.next.contentType);
    this.writes.appended(command.path, entry!.state, next, decision.start, command.data, now, mergeable, producer);
    this.cache.remember(command.path, next);
    if (producer) this.cache.rememberProducer(next.id, producer.id, producer.state);
    return { kind: "appended", stream: decision.next, start: decision.start, producer: decision.echo };
  }

  private applyRetain(path: string, policy: RetentionPolicy, now: number): TrimOutcome | null {
    const entry = this.cache.entry(path);
    const outcome = entry ? retainRows(this.sql, entry, policy, now) : null;
    if (entry && outcome) this.trimmed(entry.id, outcome);
    return outcome;
  }

  private applyCompact(path: string, rewrites: readonly BatchRewrite[]): TrimOutcome | null {
    const entry = this.cache.entry(path);
    if (!entry || entry.state.forkCount > 0) return null; // forks read its bytes as they are
    const outcome = compactRows(this.sql, entry, rewrites);
    if (outcome.removedCount > 0) this.trimmed(entry.id, outcome);
    return outcome;
  }

  /** Mirrors a retention or compaction in the cache; the round then gives the freed pages back. */
  private trimmed(id: number, outcome: TrimOutcome): void {
    this.removing = true;
    this.cache.remember(outcome.stream.path, { id, state: outcome.stream });
    this.freedPages = true;
  }

  private applyDelete(path: string): DeleteOutcome {
    return { soft: this.deleteStream(path).soft };
  }

  /** Deletes a stream (or hides it while forks read it) by the delete rules; the round then syncs on the loop. */
  private deleteStream(path: string): ReturnType<typeof planDelete> {
    const plan = planDelete(path, (p) => this.cache.entry(p)?.state);
    this.removing = true;
    applyDeletePlan(this.sql, this.cache, plan);
    return plan;
  }

  private applySweep(now: number): string[] {
    const removed = expiredStreams(this.sql, this.cache, now, this.sweepLimit);
    for (const path of removed) this.deleteStream(path);
    return removed;
  }

  /** Writes the touches taken at the start of a round; they are in the cache once the round commits. */
  private persistTouches(touches: Touches): void {
    for (const [path, at] of touches) {
      const entry = this.cache.entry(path);
      if (!entry || at <= entry.state.lastAccessAt) continue;
      this.sql.touchStream.run(at, entry.id);
      this.cache.remember(path, { id: entry.id, state: { ...entry.state, lastAccessAt: at } });
    }
  }

  private withTouch(state: StreamState): StreamState {
    return this.commits.withTouch(state);
  }
}
