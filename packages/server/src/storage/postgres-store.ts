import { randomUUID } from "node:crypto";
import pg from "pg";
import type { AppendCommand, AppendOutcome, CreateOutcome, DeleteOutcome } from "../domain/commands.js";
import type { RetentionPolicy, StreamState } from "../domain/model.js";
import { batchHolding, EMPTY_READ, sliceBatches, type RangeRead } from "./batches.js";
import { log } from "../logging/logger.js";
import { pgResyncs, pgRoundRetries } from "../metrics/store-metrics.js";
import { checkPostgresWritable, postgresUsage } from "./postgres-health.js";
import { CommitListener } from "./postgres-listener.js";
import { transact, type RoundContext } from "./postgres-round.js";
import { isConnectionError, sqlState, storeFailure } from "./postgres-errors.js";
import { checkSchemaName, migrate } from "./postgres-schema.js";
import { READ_PAGE_ROWS, statements, typeParsers, type Statements } from "./postgres-statements.js";
import type { RemoteCommit, Store, TrimOutcome, StoreUsage } from "./store.js";
import type { ResolvedCreateCommand } from "../domain/commands.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import type { StoredBatch, TimedBatch } from "../domain/model.js";
import { rowToState, type StreamRow } from "./stream-row.js";
import type { CommitBacklogLimits } from "./commit-backlog.js";
import { CommitQueue, type Touches } from "./commit-queue.js";
import type { Op, Settled } from "./commit-requests.js";

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database (node-postgres also reads PG* environment variables). */
  connectionString: string;
  /** Schema holding Rill's tables; created when missing (default "rill"). */
  schema?: string;
  /** Connections in the pool for writes and reads (default 10), plus one LISTEN connection. */
  poolSize?: number;
  /** How long a read's last-access time may stay in this server's memory only (ms). */
  touchFlushMs?: number;
  /** Most streams one `sweepExpired` call removes; the engine sweeps again later. */
  sweepLimit?: number;
  /**
   * Longest a statement may run in PostgreSQL before it is cancelled (ms,
   * default 10 s): a long lock or a stalled backend then fails the requests
   * waiting on it with 503 instead of holding them. A paused backend that
   * cannot even cancel is abandoned by the client 5 s later.
   */
  statementTimeoutMs?: number;
  /** Longest wait for a new connection (ms, default 5 s). */
  connectTimeoutMs?: number;
  /** Reconnection backoff and heartbeat of the LISTEN connection (ms). */
  listenMinBackoffMs?: number;
  listenMaxBackoffMs?: number;
  listenHeartbeatMs?: number;
  /** Bound on appends waiting to be committed (count and bytes; 0: none). */
  commitQueue?: CommitBacklogLimits;
}

/** How long before a stream's old expiry a touch of it is committed: a round's duration, plus clock skew between servers. */
const TOUCH_EXPIRY_MARGIN_MS = 500;

/** How often a round that lost a race against another server (deadlock, concurrent create) is retried. */
const MAX_ROUND_ATTEMPTS = 6;
/** SQLSTATEs after which the whole transaction was rolled back and can be retried from scratch. */
const RETRYABLE = new Set(["40P01", "40001", "23505"]);

/**
 * The shared store: any number of Rill servers on one PostgreSQL database.
 * No server holds state another could invalidate — every decision is taken
 * inside a transaction against rows it has locked, and reads go to the
 * database. Only this server's own pending last-access times (sliding TTLs)
 * live in memory, for at most `touchFlushMs`.
 *
 * Writes go through a commit queue (commit-queue.ts, `serial` policy), as on
 * SQLite: everything queued while the previous round was committing (or
 * within one event-loop turn) becomes one transaction, applied in arrival
 * order. A round
 *
 * 1. locks the stream rows its requests name, in one
 *    `SELECT … ORDER BY path FOR UPDATE` (path order, so two servers locking
 *    overlapping sets queue instead of deadlocking), and loads the producer
 *    states of those streams under that lock;
 * 2. decides each request with the pure rules of domain/ against the state left
 *    by the requests before it. A refusal (ProtocolError) is thrown before the
 *    request writes anything, so it fails alone and the round goes on; rows
 *    needed later (a fork chain a delete cascades through, expired streams)
 *    are locked on demand;
 * 3. writes the round's new batches, producer states and stream states,
 *    and NOTIFYs the changed streams' new tails — one statement — then
 *    COMMITs. PostgreSQL delivers the notices only on commit, so no other
 *    server hears of a change before its rows are visible.
 *
 * Because appends to a stream are serialized by its row lock, two servers
 * can never hand out the same offset, and the producer rules (epoch fencing,
 * seq dedup and gaps) see the latest producer state whichever server a retry
 * lands on. A round that loses a race to another server (deadlock, or both
 * creating one path) is rolled back whole and run again; no request in it
 * has been answered yet. Rounds run one at a time per server, which keeps
 * requests issued in order (a producer's pipelined seqs) in order.
 */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  /** Identifies this store's notices, so it skips its own. */
  readonly serverId = randomUUID();

  private readonly pool: pg.Pool;
  private readonly listener: CommitListener;
  private readonly sql: Statements;
  private readonly schema: string;
  private readonly channel: string;
  /** What each commit round needs from this store. */
  private readonly roundContext: RoundContext;

  private readonly watchers = new Set<{ listener: (change: RemoteCommit) => void; watched: () => Iterable<string> }>();
  private readonly commits: CommitQueue;
  private readonly touchFlushMs: number;
  private closed = false;
  private readyProbe: Promise<void> | null = null;

  private constructor(options: PostgresStoreOptions, pool: pg.Pool) {
    this.schema = checkSchemaName(options.schema ?? "rill");
    this.channel = `rill_commits_${this.schema}`;
    this.touchFlushMs = options.touchFlushMs ?? 1000;
    this.commits = new CommitQueue({
      store: "postgres",
      policy: "serial",
      touchFlushMs: this.touchFlushMs,
      limits: options.commitQueue,
      runRound: (ops, touches) => this.runRound(ops, touches),
    });
    this.pool = pool;
    this.sql = statements(`"${this.schema}"`);
    this.roundContext = {
      sql: this.sql,
      sweepLimit: options.sweepLimit ?? 1000,
      channel: this.channel,
      serverId: this.serverId,
    };
    this.listener = new CommitListener({
      connection: { connectionString: options.connectionString, application_name: `rill-listen:${this.schema}` },
      channel: this.channel,
      serverId: this.serverId,
      onCommits: (commits) => this.deliver(commits),
      onResync: () => void this.resync(),
      minBackoffMs: options.listenMinBackoffMs,
      maxBackoffMs: options.listenMaxBackoffMs,
      heartbeatMs: options.listenHeartbeatMs,
    });
  }

  /** Connects, creates or migrates the schema, and starts listening for other servers' commits. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const statementTimeoutMs = Math.max(1, Math.round(options.statementTimeoutMs ?? 10_000));
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      application_name: `rill:${options.schema ?? "rill"}`,
      types: typeParsers,
      keepAlive: true,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      options: `-c statement_timeout=${statementTimeoutMs}`,
      query_timeout: statementTimeoutMs + 5_000,
    });
    // An idle connection's failure must not crash the process; the pool drops it.
    pool.on("error", (error) =>
      log().warn({ event: "pg_idle_connection_failed", err: error.message }, "an idle PostgreSQL connection failed"),
    );
    // Nor may a checked-out one's: pg emits 'error' on the client as well as
    // failing its query, and an 'error' event nobody listens to is fatal. The
    // query's rejection is what the caller handles.
    pool.on("connect", (client) => client.on("error", () => undefined));
    let store: PostgresStore | undefined;
    try {
      store = new PostgresStore(options, pool);
      const client = await pool.connect();
      try {
        await migrate(client, store.schema);
      } finally {
        client.release();
      }
      await store.listener.start();
      return store;
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  async checkReady(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error("the PostgreSQL store is closed");
    // Probes share one query while it runs: against an unreachable database they must not pile up in the pool.
    this.readyProbe ??= checkPostgresWritable(this.pool, timeoutMs).finally(() => (this.readyProbe = null));
    await this.readyProbe;
  }

  async usage(timeoutMs: number): Promise<StoreUsage> {
    return postgresUsage(this.pool, this.schema, timeoutMs);
  }

  get pendingWrites(): number {
    return this.commits.pending;
  }

  /** The pool's connections in use and idle, and the requests waiting for one (metrics). */
  poolClients(): Array<[{ state: string }, number]> {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return [
      [{ state: "in_use" }, totalCount - idleCount],
      [{ state: "idle" }, idleCount],
      [{ state: "waiting" }, waitingCount],
    ];
  }

  /** The schema holding this store's tables (a metrics label). */
  get schemaName(): string {
    return this.schema;
  }

  /** Whether the LISTEN connection is up (metrics, readiness of cross-server wake-ups). */
  get listening(): boolean {
    return this.listener.backendPid !== null;
  }

  async getStream(path: string): Promise<StreamState | undefined> {
    const { rows } = await this.query<StreamRow<boolean>>({ ...this.sql.selectStream, values: [path] });
    return rows[0] ? this.withTouch(rowToState(rows[0])) : undefined;
  }

  create(command: ResolvedCreateCommand, now: number): Promise<CreateOutcome> {
    return this.enqueue({ kind: "create", command, now });
  }

  append(command: AppendCommand, now: number): Promise<AppendOutcome> {
    return this.enqueue({ kind: "append", command, now });
  }

  async readRange(path: string, from: number, to: number, maxBytes: number, splitBatches: boolean): Promise<RangeRead> {
    if (from >= to) return EMPTY_READ(from);
    // One query per page: the batch holding `from`, then following batches
    // while the bytes counted from `from` stay under maxBytes (lengths come
    // from the TOAST header; only the rows returned are read whole).
    const starts: number[] = [];
    const chunks: Uint8Array[] = [];
    let position = from;
    let size = 0;
    for (;;) {
      const { rows } = await this.query<{ start: number; bytes: Buffer }>({
        ...this.sql.readBatches,
        values: [path, position, to, maxBytes - size],
      });
      for (const row of rows) {
        starts.push(row.start);
        chunks.push(row.bytes);
        size += Math.min(row.start + row.bytes.length, to) - Math.max(row.start, position);
      }
      const last = rows.at(-1);
      if (rows.length < READ_PAGE_ROWS || !last || size >= maxBytes) break;
      position = last.start + last.bytes.length;
      if (position >= to) break;
    }
    return sliceBatches(starts, chunks, from, to, maxBytes, splitBatches);
  }

  async batchAt(path: string, position: number): Promise<StoredBatch | undefined> {
    const { rows } = await this.query<{ start: number; bytes: Buffer }>({ ...this.sql.batchAtOrBefore, values: [path, position] });
    const row = rows[0];
    return row ? batchHolding([row.start], [row.bytes], position) : undefined;
  }

  async scanBatches(path: string, from: number, to: number, limit: number): Promise<TimedBatch[]> {
    const { rows } = await this.pool.query<{ start: number; bytes: Buffer; appended_at: number }>({
      ...this.sql.scanBatches,
      values: [path, from, to, limit],
    });
    return rows.map((row) => ({ start: row.start, bytes: row.bytes, appendedAt: row.appended_at }));
  }

  retain(path: string, policy: RetentionPolicy, now: number): Promise<TrimOutcome | null> {
    return this.enqueue({ kind: "retain", path, policy, now });
  }

  compact(path: string, rewrites: readonly BatchRewrite[]): Promise<TrimOutcome | null> {
    return this.enqueue({ kind: "compact", path, rewrites });
  }

  async touch(path: string, now: number, expiresAt?: number | null): Promise<void> {
    // Before the stream's old expiry, or another server's sweeper removes a stream this one is reading.
    const flushBy = expiresAt == null ? now + this.touchFlushMs : Math.min(now + this.touchFlushMs, expiresAt - TOUCH_EXPIRY_MARGIN_MS);
    this.commits.touch(path, now, flushBy);
  }

  delete(path: string, _now: number): Promise<DeleteOutcome> {
    return this.enqueue({ kind: "delete", path });
  }

  sweepExpired(now: number): Promise<string[]> {
    return this.enqueue({ kind: "sweep", now });
  }

  async countStreams(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>({ ...this.sql.countStreams });
    return Number(rows[0]!.n);
  }

  async list(prefix: string, after: string | null, limit: number): Promise<StreamState[]> {
    if (limit <= 0) return [];
    const { rows } = await this.query<StreamRow<boolean>>({ ...this.sql.list, values: [prefix, after, limit] });
    return rows.map((row) => this.withTouch(rowToState(row)));
  }

  /**
   * Reports other servers' commits to `listener`. `watched` names the streams
   * this server has live readers on: after the LISTEN connection was lost,
   * notices sent meanwhile are gone for good, so once it is back every
   * watched stream is reported with its current state, and each waiting
   * reader re-reads it (a reader that finds nothing new simply waits again).
   * Asking the caller for the paths, rather than tracking readers here, keeps
   * the live hub the one place that knows who waits on what.
   */
  watchRemoteCommits(listener: (change: RemoteCommit) => void, watched: () => Iterable<string>): () => void {
    const watcher = { listener, watched };
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Requests already queued, and touches, are committed before the pool goes
    // (or fail, if the database is unreachable: then the touches are lost).
    await this.commits.close();
    await this.listener.stop();
    await this.pool.end();
  }

  // ---------------------------------------------------------------- remote commits

  private deliver(commits: RemoteCommit[]): void {
    for (const commit of commits) {
      for (const watcher of this.watchers) watcher.listener(commit);
    }
  }

  private async resync(): Promise<void> {
    pgResyncs.inc();
    for (const watcher of [...this.watchers]) {
      const paths = [...watcher.watched()];
      if (paths.length === 0) continue;
      try {
        const { rows } = await this.pool.query<{ path: string; tail: number; closed: boolean; soft_deleted: boolean }>({
          ...this.sql.selectTails,
          values: [paths],
        });
        const found = new Map(rows.map((row) => [row.path, row]));
        for (const path of paths) {
          const row = found.get(path);
          watcher.listener({ path, tail: row?.tail ?? 0, closed: row?.closed ?? false, gone: !row || row.soft_deleted });
        }
      } catch (error) {
        // Still wake everyone: each reader re-reads and finds out for itself.
        log().warn(
          { event: "pg_resync_failed", err: error instanceof Error ? error.message : String(error), streams: paths.length },
          "re-checking watched streams failed; waking their readers anyway",
        );
        for (const path of paths) watcher.listener({ path, tail: 0, closed: false, gone: false });
      }
    }
  }

  // ---------------------------------------------------------------- commit rounds

  private enqueue<T>(op: Op): Promise<T> {
    return this.commits.enqueue<T>(op);
  }

  /**
   * One round (the touches, then the requests in one transaction), retried
   * when it lost a race to another server. A failure of the whole round is
   * thrown as the store failure (503) every request in it gets.
   */
  private async runRound(ops: Op[], touches: Touches): Promise<Settled[]> {
    let attempt = 0;
    for (;;) {
      attempt++;
      let client: pg.PoolClient | null = null;
      let broken: unknown;
      try {
        client = await this.pool.connect();
        if (touches.size > 0) await this.persistTouches(client, touches);
        return ops.length > 0 ? await transact(client, ops, this.roundContext) : [];
      } catch (error) {
        broken = isConnectionError(error) ? error : undefined;
        if (client) await client.query("ROLLBACK").catch((e: unknown) => void (broken ??= e));
        if (attempt < MAX_ROUND_ATTEMPTS && RETRYABLE.has(sqlState(error))) {
          pgRoundRetries.inc();
          client?.release(broken instanceof Error ? broken : undefined);
          client = null;
          await sleep(2 + Math.random() * 8 * attempt);
          continue;
        }
        throw storeFailure(error);
      } finally {
        client?.release(broken instanceof Error ? broken : undefined);
      }
    }
  }

  /** Last-access times only ever move forward, and only for streams with a sliding TTL. */
  private async persistTouches(client: pg.PoolClient, touches: Touches): Promise<void> {
    const entries = [...touches].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await client.query({ ...this.sql.touch, values: [entries.map(([p]) => p), entries.map(([, at]) => at)] });
  }

  /** A read outside a round: a failing database is a 503 for the reader, as it is for writers. */
  private async query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(config);
    } catch (error) {
      throw storeFailure(error);
    }
  }

  private withTouch(state: StreamState): StreamState {
    return this.commits.withTouch(state);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
