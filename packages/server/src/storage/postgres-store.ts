import { randomUUID } from "node:crypto";
import pg from "pg";
import type { AppendCommand, AppendOutcome, CreateOutcome, DeleteOutcome } from "../engine/commands.js";
import { decideAppend } from "../engine/append-rules.js";
import { decideCreate } from "../engine/create-rules.js";
import { planDelete, type DeletePlan } from "../engine/delete-rules.js";
import { ProtocolError } from "../engine/errors.js";
import { isExpired, type ProducerState, type StreamState } from "../engine/model.js";
import { MERGE_LIMIT, sliceBatches } from "./batches.js";
import { CommitListener, encodeNotices } from "./postgres-listener.js";
import { checkSchemaName, migrate } from "./postgres-schema.js";
import type { RemoteCommit, ResolvedCreateCommand, Store } from "./store.js";
import { INSERT_COLUMNS, INSERT_PARAMS, rowToState, stateParams, STREAM_COLUMNS, type StateParams, type StreamRow } from "./stream-row.js";
import { settle, type Op, type Pending, type Settled } from "./write-queue.js";

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
  /** Reconnection backoff and heartbeat of the LISTEN connection (ms). */
  listenMinBackoffMs?: number;
  listenMaxBackoffMs?: number;
  listenHeartbeatMs?: number;
}

/** How often a round that lost a race against another server (deadlock, concurrent create) is retried. */
const MAX_ROUND_ATTEMPTS = 6;
/** SQLSTATEs after which the whole transaction was rolled back and can be retried from scratch. */
const RETRYABLE = new Set(["40P01", "40001", "23505"]);
/**
 * Batches up to this size travel inside the round's single write statement
 * (as a bytea array, hex-encoded); larger ones get a statement of their own
 * with the bytes as a binary parameter.
 */
const INLINE_BATCH_BYTES = 64 * 1024;
/** Batches one read query returns at most; a read needing more pages on. */
const READ_PAGE_ROWS = 1024;

/** A stream row locked by the current transaction: its id (batches and producers hang off it) and state. */
interface Locked {
  id: number;
  state: StreamState;
}

/** bigint columns come back as JavaScript numbers: positions and times stay far below 2^53. */
const INT8_OID = 20;
const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (value: string) => Number(value);
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * The shared store: any number of Rill servers on one PostgreSQL database.
 * No server holds state another could invalidate — every decision is taken
 * inside a transaction against rows it has locked, and reads go to the
 * database. Only this server's own pending last-access times (sliding TTLs)
 * live in memory, for at most `touchFlushMs`.
 *
 * Writes go through a commit queue, as on SQLite: everything queued while
 * the previous round was committing (or within one event-loop turn) becomes
 * one transaction, applied in arrival order. A round
 *
 * 1. locks the stream rows its requests name, in one
 *    `SELECT … ORDER BY path FOR UPDATE` (path order, so two servers locking
 *    overlapping sets queue instead of deadlocking), and loads the producer
 *    states of those streams under that lock;
 * 2. decides each request with the engine's pure rules against the state left
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
  /** Commit rounds, requests applied and rounds retried; for metrics and tests. */
  readonly stats = { rounds: 0, requests: 0, retries: 0 };
  /** Identifies this store's notices, so it skips its own. */
  readonly serverId = randomUUID();

  private readonly pool: pg.Pool;
  private readonly listener: CommitListener;
  private readonly sql: Statements;
  private readonly schema: string;
  private readonly channel: string;
  private readonly touchFlushMs: number;
  private readonly sweepLimit: number;

  private readonly watchers = new Set<{ listener: (change: RemoteCommit) => void; watched: () => Iterable<string> }>();
  /** Last-access times newer than the stored ones: not yet persisted, and being persisted. */
  private touches = new Map<string, number>();
  private flushingTouches = new Map<string, number>();

  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  private touchTimer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private closed = false;

  private constructor(options: PostgresStoreOptions, pool: pg.Pool) {
    this.schema = checkSchemaName(options.schema ?? "rill");
    this.channel = `rill_commits_${this.schema}`;
    this.touchFlushMs = options.touchFlushMs ?? 1000;
    this.sweepLimit = options.sweepLimit ?? 1000;
    this.pool = pool;
    this.sql = statements(`"${this.schema}"`);
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
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      application_name: `rill:${options.schema ?? "rill"}`,
      types: typeParsers,
      keepAlive: true,
    });
    // An idle connection's failure must not crash the process; the pool drops it.
    pool.on("error", (error) => console.error("rill: idle PostgreSQL connection failed:", error.message));
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

  /** Times the LISTEN connection was re-established, and its backend pid (for tests). */
  get listenerInfo(): { reconnects: number; backendPid: number | null } {
    return { reconnects: this.listener.reconnects, backendPid: this.listener.backendPid };
  }

  async getStream(path: string): Promise<StreamState | undefined> {
    const { rows } = await this.pool.query<StreamRow<boolean>>({ ...this.sql.selectStream, values: [path] });
    return rows[0] ? this.withTouch(rowToState(rows[0])) : undefined;
  }

  create(command: ResolvedCreateCommand, now: number): Promise<CreateOutcome> {
    return this.enqueue({ kind: "create", command, now });
  }

  append(command: AppendCommand, now: number): Promise<AppendOutcome> {
    return this.enqueue({ kind: "append", command, now });
  }

  async readRange(path: string, from: number, to: number, maxBytes: number, splitBatches: boolean): Promise<Uint8Array> {
    if (from >= to) return new Uint8Array(0);
    // One query per page: the batch holding `from`, then following batches
    // while the bytes counted from `from` stay under maxBytes (lengths come
    // from the TOAST header; only the rows returned are read whole).
    const starts: number[] = [];
    const chunks: Uint8Array[] = [];
    let position = from;
    let size = 0;
    for (;;) {
      const { rows } = await this.pool.query<{ start: number; bytes: Buffer }>({
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

  async touch(path: string, now: number): Promise<void> {
    if (now <= (this.touches.get(path) ?? 0)) return;
    this.touches.set(path, now);
    this.armTouchTimer();
  }

  delete(path: string, _now: number): Promise<DeleteOutcome> {
    return this.enqueue({ kind: "delete", path });
  }

  sweepExpired(now: number): Promise<string[]> {
    return this.enqueue({ kind: "sweep", now });
  }

  async list(prefix: string, after: string | null, limit: number): Promise<StreamState[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<StreamRow<boolean>>({ ...this.sql.list, values: [prefix, after, limit] });
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
    if (this.touchTimer !== null) clearTimeout(this.touchTimer);
    this.touchTimer = null;
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    // Requests already queued, and touches, are committed before the pool goes
    // (or fail, if the database is unreachable: then the touches are lost).
    if (this.pumping) await this.pumping;
    if (this.queue.length > 0 || this.touches.size > 0) await this.pump();
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
        console.error("rill: re-checking watched streams failed:", error instanceof Error ? error.message : error);
        for (const path of paths) watcher.listener({ path, tail: 0, closed: false, gone: false });
      }
    }
  }

  // ---------------------------------------------------------------- commit queue

  private enqueue<T>(op: Op): Promise<T> {
    if (this.closed) return Promise.reject(new Error("the PostgreSQL store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (value: never) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.pumping || this.scheduled !== null || this.closed) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      void this.pump();
    });
  }

  /** Forces a round within touchFlushMs, so touches reach the database without waiting for a write. */
  private armTouchTimer(): void {
    if (this.touchTimer !== null || this.closed) return;
    this.touchTimer = setTimeout(() => {
      this.touchTimer = null;
      this.schedule();
    }, this.touchFlushMs);
    this.touchTimer.unref();
  }

  /**
   * Runs rounds until nothing is queued; requests arriving during a round make
   * up the next. After a failed round, touches put back wait for their timer
   * rather than being retried at once.
   */
  private pump(): Promise<void> {
    if (this.pumping) return this.pumping;
    this.pumping = (async () => {
      try {
        let ok = true;
        while (this.queue.length > 0 || (ok && this.touches.size > 0)) {
          const batch = this.queue;
          this.queue = [];
          const touches = this.touches;
          this.touches = new Map();
          if (touches.size > 0 && this.touchTimer !== null) {
            clearTimeout(this.touchTimer);
            this.touchTimer = null;
          }
          ok = await this.runRound(batch, touches);
        }
      } finally {
        this.pumping = null;
      }
    })();
    return this.pumping;
  }

  /** One round, retried when it lost a race; false when it failed. */
  private async runRound(batch: Pending[], touches: Map<string, number>): Promise<boolean> {
    this.flushingTouches = touches;
    let attempt = 0;
    for (;;) {
      attempt++;
      let client: pg.PoolClient | null = null;
      let broken: unknown;
      try {
        client = await this.pool.connect();
        if (touches.size > 0) await this.persistTouches(client, touches);
        const results = batch.length > 0 ? await this.transact(client, batch.map((p) => p.op)) : [];
        this.flushingTouches = new Map();
        this.stats.rounds++;
        this.stats.requests += batch.length;
        settle(batch, results);
        return true;
      } catch (error) {
        broken = isConnectionError(error) ? error : undefined;
        if (client) await client.query("ROLLBACK").catch((e: unknown) => void (broken ??= e));
        if (attempt < MAX_ROUND_ATTEMPTS && RETRYABLE.has(sqlState(error))) {
          this.stats.retries++;
          client?.release(broken instanceof Error ? broken : undefined);
          client = null;
          await sleep(2 + Math.random() * 8 * attempt);
          continue;
        }
        this.flushingTouches = new Map();
        for (const [path, at] of touches) {
          if (at > (this.touches.get(path) ?? 0)) this.touches.set(path, at);
        }
        if (this.touches.size > 0) this.armTouchTimer();
        for (const pending of batch) pending.reject(error);
        return false;
      } finally {
        client?.release(broken instanceof Error ? broken : undefined);
      }
    }
  }

  /** Last-access times only ever move forward, and only for streams with a sliding TTL. */
  private async persistTouches(client: pg.PoolClient, touches: Map<string, number>): Promise<void> {
    const entries = [...touches].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await client.query({ ...this.sql.touch, values: [entries.map(([p]) => p), entries.map(([, at]) => at)] });
  }

  /** One round: BEGIN, every request in order, the deferred writes, NOTIFY, COMMIT. */
  private async transact(client: pg.PoolClient, ops: Op[]): Promise<Settled[]> {
    await client.query("BEGIN");
    const round = new Round(client, this.sql, this.sweepLimit);
    const paths: string[] = [];
    for (const op of ops) {
      if (op.kind === "append" || op.kind === "delete") paths.push(op.kind === "append" ? op.command.path : op.path);
      if (op.kind === "create") {
        paths.push(op.command.path);
        if (op.command.fork) paths.push(op.command.fork.source);
      }
    }
    await round.lock(paths);
    await round.loadProducers(ops.flatMap((op) => (op.kind === "append" && op.command.producer ? [op.command] : [])));
    const results: Settled[] = [];
    for (const op of ops) {
      try {
        results.push({ ok: true, value: await round.apply(op) });
      } catch (error) {
        // Refusals are thrown before the request wrote anything; anything else fails the round.
        if (!(error instanceof ProtocolError)) throw error;
        results.push({ ok: false, error });
      }
    }
    await round.flush(this.channel, encodeNotices(this.serverId, round.changes.values()));
    await client.query("COMMIT");
    return results;
  }

  private withTouch(state: StreamState): StreamState {
    const touched = Math.max(this.touches.get(state.path) ?? 0, this.flushingTouches.get(state.path) ?? 0);
    return touched > state.lastAccessAt && state.ttlSeconds !== null ? { ...state, lastAccessAt: touched } : state;
  }
}

/**
 * The state of one transaction: the stream rows it has locked (or found
 * absent), producer states read under those locks, and the writes it defers
 * to the end. Appends only touch memory until `flush`; deletes and creates
 * write at once (they need row ids), after dropping deferred writes that a
 * delete makes moot.
 */
class Round {
  /** path → locked row, or null when absent. Decisions read only this. */
  private readonly rows = new Map<string, Locked | null>();
  /** `${streamId} ${producerId}` → state, or null when the stream has none. */
  private readonly producers = new Map<string, ProducerState | null>();
  /** Ids of streams created in this round: they have no producer rows to load. */
  private readonly fresh = new Set<number>();

  private batches: { id: number; start: number; bytes: Uint8Array }[] = [];
  private readonly dirtyStreams = new Map<number, StreamState>();
  private readonly dirtyProducers = new Map<string, { id: number; producerId: string; state: ProducerState }>();
  /** The notices to send on commit: each changed stream's final state in this round. */
  readonly changes = new Map<string, RemoteCommit>();

  constructor(
    private readonly db: pg.PoolClient,
    private readonly sql: Statements,
    private readonly sweepLimit: number,
  ) {}

  /** Locks (in path order) whichever of `paths` this round has not looked at yet. */
  async lock(paths: string[]): Promise<void> {
    const wanted = [...new Set(paths.filter((p) => !this.rows.has(p)))];
    if (wanted.length === 0) return;
    const { rows } = await this.db.query<StreamRow<boolean>>({ ...this.sql.lockStreams, values: [wanted] });
    for (const path of wanted) this.rows.set(path, null);
    for (const row of rows) this.rows.set(row.path, { id: row.id, state: rowToState(row) });
  }

  /** Reads, in one query, the producer states the round's appends will need. */
  async loadProducers(commands: AppendCommand[]): Promise<void> {
    const ids: number[] = [];
    const producerIds: string[] = [];
    for (const command of commands) {
      const row = this.rows.get(command.path);
      if (!row || !command.producer) continue;
      const key = `${row.id} ${command.producer.id}`;
      if (this.producers.has(key)) continue;
      this.producers.set(key, null);
      ids.push(row.id);
      producerIds.push(command.producer.id);
    }
    if (ids.length === 0) return;
    const { rows } = await this.db.query<{ stream_id: number; producer_id: string; epoch: number; last_seq: number }>({
      ...this.sql.selectProducers,
      values: [ids, producerIds],
    });
    for (const row of rows) this.producers.set(`${row.stream_id} ${row.producer_id}`, { epoch: row.epoch, lastSeq: row.last_seq });
  }

  apply(op: Op): Promise<unknown> {
    switch (op.kind) {
      case "create":
        return this.create(op.command, op.now);
      case "append":
        return this.append(op.command, op.now);
      case "delete":
        return this.delete(op.path);
      case "sweep":
        return this.sweep(op.now);
    }
  }

  private async row(path: string): Promise<Locked | null> {
    await this.lock([path]);
    return this.rows.get(path) ?? null;
  }

  private async producer(streamId: number, producerId: string): Promise<ProducerState | undefined> {
    const key = `${streamId} ${producerId}`;
    if (!this.producers.has(key) && !this.fresh.has(streamId)) {
      const { rows } = await this.db.query<{ stream_id: number; producer_id: string; epoch: number; last_seq: number }>({
        ...this.sql.selectProducers,
        values: [[streamId], [producerId]],
      });
      this.producers.set(key, rows[0] ? { epoch: rows[0].epoch, lastSeq: rows[0].last_seq } : null);
    }
    return this.producers.get(key) ?? undefined;
  }

  private async create(command: ResolvedCreateCommand, now: number): Promise<CreateOutcome> {
    await this.lock(command.fork ? [command.path, command.fork.source] : [command.path]);
    const existing = this.rows.get(command.path) ?? null;
    const source = command.fork ? (this.rows.get(command.fork.source) ?? null) : null;
    const decision = decideCreate(existing?.state, source?.state, command, now);
    if (decision.kind === "exists") return { created: false, stream: decision.stream };

    // The rules let a create replace only an expired stream no fork reads
    // through; it goes the way a delete would, so its source loses a fork.
    if (existing) await this.applyPlan(await this.plan(existing.state.path));

    const stream = decision.stream;
    const { rows } = await this.db.query<{ id: number }>({ ...this.sql.insertStream, values: insertValues(stream) });
    const id = rows[0]!.id;
    this.fresh.add(id);
    this.rows.set(stream.path, { id, state: stream });
    if (command.data.length > 0) this.batches.push({ id, start: stream.forkOffset, bytes: command.data });
    if (command.fork) {
      const current = this.rows.get(command.fork.source)!;
      this.update(current.id, { ...current.state, forkCount: current.state.forkCount + 1 });
    }
    this.changes.set(stream.path, { path: stream.path, tail: stream.tail, closed: stream.closed, gone: false });
    return { created: true, stream };
  }

  private async append(command: AppendCommand, now: number): Promise<AppendOutcome> {
    const row = await this.row(command.path);
    const producerId = command.producer?.id;
    const known = row && producerId !== undefined ? await this.producer(row.id, producerId) : undefined;
    const decision = decideAppend(row?.state, known, command, now);
    if (decision.kind === "duplicate") {
      return { kind: "duplicate", stream: decision.stream, start: decision.stream.tail, producer: decision.echo };
    }
    const { id } = row!;
    if (command.data.length > 0) this.batches.push({ id, start: decision.start, bytes: command.data });
    this.update(id, decision.next);
    if (producerId !== undefined && decision.producer) {
      const key = `${id} ${producerId}`;
      this.producers.set(key, decision.producer);
      this.dirtyProducers.set(key, { id, producerId, state: decision.producer });
    }
    const next = decision.next;
    // The notice covers every append to this stream in the round: its bytes start where the first one did.
    const earlier = this.changes.get(next.path);
    const start = earlier ? earlier.start : decision.start;
    this.changes.set(next.path, { path: next.path, start, tail: next.tail, closed: next.closed, gone: false });
    return { kind: "appended", stream: next, start: decision.start, producer: decision.echo };
  }

  private async delete(path: string): Promise<DeleteOutcome> {
    const plan = await this.plan(path);
    await this.applyPlan(plan);
    return { soft: plan.soft };
  }

  private async sweep(now: number): Promise<string[]> {
    // SKIP LOCKED: rows another server is writing (or sweeping) right now are left for a later sweep.
    const { rows } = await this.db.query<{ path: string }>({ ...this.sql.expiredPaths, values: [now, this.sweepLimit] });
    await this.lock(rows.map((row) => row.path));
    const removed: string[] = [];
    for (const { path } of rows) {
      const row = this.rows.get(path);
      // Judged on this round's view, which may hold writes not flushed yet.
      if (!row || row.state.softDeleted || !isExpired(row.state, now)) continue;
      await this.applyPlan(await this.plan(path));
      removed.push(path);
    }
    return removed;
  }

  /**
   * planDelete reads states synchronously. Run it against the locked rows;
   * when it asks for a stream this round has not locked (a fork chain's
   * ancestor), lock that one and plan again. Each pass locks at least one
   * more row, so this ends.
   */
  private async plan(path: string): Promise<DeletePlan> {
    for (;;) {
      let missing: string | null = null;
      const plan = planDelete(path, (p) => {
        if (!this.rows.has(p)) {
          missing ??= p;
          return undefined;
        }
        return this.rows.get(p)?.state;
      });
      if (missing === null) return plan;
      await this.lock([missing]);
    }
  }

  private async applyPlan(plan: DeletePlan): Promise<void> {
    for (const path of plan.remove) {
      const row = this.rows.get(path);
      if (!row) continue;
      // Deferred writes for a stream about to go are moot.
      this.batches = this.batches.filter((batch) => batch.id !== row.id);
      this.dirtyStreams.delete(row.id);
      for (const [key, producer] of this.dirtyProducers) if (producer.id === row.id) this.dirtyProducers.delete(key);
      await this.db.query({ ...this.sql.deleteBatches, values: [row.id] });
      await this.db.query({ ...this.sql.deleteProducers, values: [row.id] });
      await this.db.query({ ...this.sql.deleteStream, values: [row.id] });
      this.rows.set(path, null);
      this.changes.set(path, { path, tail: row.state.tail, closed: row.state.closed, gone: true });
    }
    for (const state of plan.update) {
      const row = this.rows.get(state.path);
      if (!row) continue;
      this.update(row.id, state);
      if (state.softDeleted && !row.state.softDeleted) {
        this.changes.set(state.path, { path: state.path, tail: state.tail, closed: state.closed, gone: true });
      }
    }
  }

  private update(id: number, state: StreamState): void {
    this.rows.set(state.path, { id, state });
    this.dirtyStreams.set(id, state);
  }

  /**
   * Writes what the round deferred — new batches, producer states, stream
   * states — and queues the notices, all in one statement (large batches
   * first, each on its own), so a round costs few round trips.
   */
  async flush(channel: string, payloads: string[]): Promise<void> {
    const inline = [];
    for (const batch of mergeContiguous(this.batches)) {
      if (batch.bytes.length <= INLINE_BATCH_BYTES) inline.push(batch);
      else await this.db.query({ ...this.sql.insertBatch, values: [batch.id, batch.start, batch.bytes] });
    }
    this.batches = [];
    const producers = [...this.dirtyProducers.values()];
    this.dirtyProducers.clear();
    const streams = [...this.dirtyStreams];
    this.dirtyStreams.clear();
    if (inline.length === 0 && producers.length === 0 && streams.length === 0 && payloads.length === 0) return;
    const params = streams.map(([, state]) => stateParams(state, (value) => value));
    const column = (key: keyof StateParams<boolean>) => params.map((p) => p[key]);
    await this.db.query({
      ...this.sql.writeRound,
      values: [
        inline.map((b) => b.id),
        inline.map((b) => b.start),
        inline.map((b) => b.bytes),
        producers.map((p) => p.id),
        producers.map((p) => p.producerId),
        producers.map((p) => p.state.epoch),
        producers.map((p) => p.state.lastSeq),
        streams.map(([id]) => id),
        column("contentType"),
        column("ttlSeconds"),
        column("expiresAt"),
        column("lastAccessAt"),
        column("tail"),
        column("closed"),
        column("lastStreamSeq"),
        column("forkCount"),
        column("softDeleted"),
        column("closedById"),
        column("closedByEpoch"),
        column("closedBySeq"),
        channel,
        payloads,
      ],
    });
  }
}

/** Merges each stream's consecutive batches that continue one another, up to MERGE_LIMIT bytes a row. */
function mergeContiguous(batches: { id: number; start: number; bytes: Uint8Array }[]) {
  const rows: { id: number; start: number; parts: Uint8Array[]; size: number }[] = [];
  const open = new Map<number, (typeof rows)[number]>();
  for (const batch of batches) {
    const row = open.get(batch.id);
    if (row && row.start + row.size === batch.start && row.size + batch.bytes.length <= MERGE_LIMIT) {
      row.parts.push(batch.bytes);
      row.size += batch.bytes.length;
      continue;
    }
    const fresh = { id: batch.id, start: batch.start, parts: [batch.bytes], size: batch.bytes.length };
    rows.push(fresh);
    open.set(batch.id, fresh);
  }
  return rows.map((row) => ({
    id: row.id,
    start: row.start,
    bytes: row.parts.length === 1 ? row.parts[0]! : Buffer.concat(row.parts, row.size),
  }));
}

type Statements = ReturnType<typeof statements>;

/**
 * Named (prepared once per connection) statements. Each store has a pool of
 * its own, so names need not carry the schema (and stay well under
 * PostgreSQL's 63-byte limit, past which names would be cut and clash).
 */
function statements(s: string) {
  const named = (name: string, text: string) => ({ name: `rill_${name}`, text });
  return {
    selectStream: named("select_stream", `SELECT ${STREAM_COLUMNS} FROM ${s}.streams WHERE path = $1`),
    selectTails: named(
      "select_tails",
      `SELECT path, tail, closed, soft_deleted FROM ${s}.streams WHERE path = ANY($1::text[])`,
    ),
    lockStreams: named(
      "lock_streams",
      `SELECT ${STREAM_COLUMNS} FROM ${s}.streams WHERE path = ANY($1::text[]) ORDER BY path FOR UPDATE`,
    ),
    insertStream: named(
      "insert_stream",
      `INSERT INTO ${s}.streams (${INSERT_COLUMNS})
       VALUES (${INSERT_PARAMS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`,
    ),
    // Data-modifying CTEs all run, whether or not the final SELECT reads them;
    // empty arrays make them no-ops. NOTIFY is delivered on COMMIT.
    writeRound: named(
      "write_round",
      `WITH new_batches AS (
         INSERT INTO ${s}.batches (stream_id, start, bytes)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])
       ), new_producers AS (
         INSERT INTO ${s}.producers (stream_id, producer_id, epoch, last_seq)
         SELECT * FROM unnest($4::bigint[], $5::text[], $6::bigint[], $7::bigint[])
         ON CONFLICT (stream_id, producer_id) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq
       ), new_states AS (
         UPDATE ${s}.streams AS s SET content_type = u.content_type, ttl_seconds = u.ttl_seconds,
           expires_at = u.expires_at, last_access_at = u.last_access_at, tail = u.tail, closed = u.closed,
           last_stream_seq = u.last_stream_seq, fork_count = u.fork_count, soft_deleted = u.soft_deleted,
           closed_by_id = u.closed_by_id, closed_by_epoch = u.closed_by_epoch, closed_by_seq = u.closed_by_seq
         FROM unnest($8::bigint[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
           $14::boolean[], $15::text[], $16::bigint[], $17::boolean[], $18::text[], $19::bigint[], $20::bigint[])
           AS u(id, content_type, ttl_seconds, expires_at, last_access_at, tail, closed, last_stream_seq,
             fork_count, soft_deleted, closed_by_id, closed_by_epoch, closed_by_seq)
         WHERE s.id = u.id
       )
       SELECT pg_notify($21, payload) FROM unnest($22::text[]) AS payload`,
    ),
    touch: named(
      "touch",
      `UPDATE ${s}.streams AS s SET last_access_at = t.at
       FROM unnest($1::text[], $2::bigint[]) AS t(path, at)
       WHERE s.path = t.path AND s.ttl_seconds IS NOT NULL AND s.last_access_at < t.at`,
    ),
    deleteStream: named("delete_stream", `DELETE FROM ${s}.streams WHERE id = $1`),
    // starts_with on a C-collated column is an index range scan (PostgreSQL 15+).
    list: named(
      "list",
      `SELECT ${STREAM_COLUMNS} FROM ${s}.streams
       WHERE starts_with(path, $1::text) AND ($2::text IS NULL OR path > $2::text)
       ORDER BY path LIMIT $3`,
    ),
    expiredPaths: named(
      "expired_paths",
      `SELECT path FROM ${s}.streams WHERE expiry_at IS NOT NULL AND NOT soft_deleted AND expiry_at <= $1
       ORDER BY expiry_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    ),
    insertBatch: named("insert_batch", `INSERT INTO ${s}.batches (stream_id, start, bytes) VALUES ($1, $2, $3)`),
    // `before`: bytes from $2 up to the row. Stops after the row that reaches $4.
    readBatches: named(
      "read_batches",
      `WITH st AS (SELECT id FROM ${s}.streams WHERE path = $1),
       first AS (
         SELECT coalesce(
           (SELECT b.start FROM ${s}.batches b, st WHERE b.stream_id = st.id AND b.start <= $2 ORDER BY b.start DESC LIMIT 1),
           $2) AS start)
       SELECT start, bytes FROM (
         SELECT b.start, b.bytes,
           sum(octet_length(b.bytes)) OVER (ORDER BY b.start) - octet_length(b.bytes) - ($2 - first.start) AS before
         FROM ${s}.batches b, st, first
         WHERE b.stream_id = st.id AND b.start >= first.start AND b.start < $3
         ORDER BY b.start LIMIT ${READ_PAGE_ROWS}) AS w
       WHERE w.before < $4
       ORDER BY start`,
    ),
    deleteBatches: named("delete_batches", `DELETE FROM ${s}.batches WHERE stream_id = $1`),
    selectProducers: named(
      "select_producers",
      `SELECT p.stream_id, p.producer_id, p.epoch, p.last_seq FROM ${s}.producers p
       JOIN unnest($1::bigint[], $2::text[]) AS k(stream_id, producer_id)
         ON p.stream_id = k.stream_id AND p.producer_id = k.producer_id`,
    ),
    deleteProducers: named("delete_producers", `DELETE FROM ${s}.producers WHERE stream_id = $1`),
  };
}

/** A state as `insertStream`'s positional parameters. */
function insertValues(state: StreamState): unknown[] {
  const params = stateParams(state, (value) => value);
  return INSERT_PARAMS.map((key) => params[key]);
}

function sqlState(error: unknown): string {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : "";
}

/** Errors after which a pooled connection must not be reused. */
function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  return code === "" || code.startsWith("08") || code === "57P01";
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
