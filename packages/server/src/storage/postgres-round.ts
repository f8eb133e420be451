import type pg from "pg";
import type { AppendCommand, AppendOutcome, CreateOutcome, DeleteOutcome } from "../domain/commands.js";
import { decideAppend } from "../domain/append-rules.js";
import { decideCreate } from "../domain/create-rules.js";
import { planDelete, type DeletePlan } from "../domain/delete-rules.js";
import { ProtocolError } from "../domain/errors.js";
import { isExpired, type ProducerState, type RetentionPolicy, type StreamState } from "../domain/model.js";
import { recordCommit } from "../metrics/store-metrics.js";
import { MERGE_LIMIT, mayMergeBatches } from "./batches.js";
import { encodeNotices } from "./postgres-listener.js";
import { insertValues, type Statements } from "./postgres-statements.js";
import type { RemoteCommit, TrimOutcome } from "./store.js";
import type { ResolvedCreateCommand } from "../domain/commands.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import { compactRows, retainRows } from "./postgres-trim.js";
import { rowToState, stateParams, type StateParams, type StreamRow } from "./stream-row.js";
import type { Op, Settled } from "./commit-requests.js";

/**
 * Batches up to this size travel inside the round's single write statement
 * (as a bytea array, hex-encoded); larger ones get a statement of their own
 * with the bytes as a binary parameter.
 */
const INLINE_BATCH_BYTES = 64 * 1024;

/** A stream row locked by the current transaction: its id (batches and producers hang off it) and state. */
interface Locked {
  id: number;
  state: StreamState;
}

/** What a round needs from its store besides a connection. */
export interface RoundContext {
  sql: Statements;
  /** Most streams one sweep removes. */
  sweepLimit: number;
  /** The NOTIFY channel, and this server's id, which its notices carry. */
  channel: string;
  serverId: string;
}

/** One round: BEGIN, every request in order, the deferred writes, NOTIFY, COMMIT. */
export async function transact(client: pg.PoolClient, ops: Op[], context: RoundContext): Promise<Settled[]> {
  await client.query("BEGIN");
  const round = new Round(client, context.sql, context.sweepLimit);
  const paths: string[] = [];
  for (const op of ops) {
    if (op.kind === "append") paths.push(op.command.path);
    if (op.kind === "delete" || op.kind === "retain" || op.kind === "compact") paths.push(op.path);
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
  await round.flush(context.channel, encodeNotices(context.serverId, round.changes.values()));
  const committingAt = performance.now();
  await client.query("COMMIT");
  recordCommit("postgres", committingAt);
  return results;
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

  private batches: PendingBatch[] = [];
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
      case "retain":
        return this.retain(op.path, op.policy, op.now);
      case "compact":
        return this.compact(op.path, op.rewrites);
    }
  }

  private async retain(path: string, policy: RetentionPolicy, now: number): Promise<TrimOutcome | null> {
    const row = await this.row(path);
    const outcome = row ? await retainRows(this.db, this.sql, row, policy, now) : null;
    if (row && outcome) this.update(row.id, outcome.stream);
    return outcome;
  }

  private async compact(path: string, rewrites: readonly BatchRewrite[]): Promise<TrimOutcome | null> {
    const row = await this.row(path);
    if (!row || row.state.forkCount > 0) return null; // forks read its bytes as they are
    const outcome = await compactRows(this.db, this.sql, row, rewrites);
    if (outcome.removedCount > 0) this.update(row.id, outcome.stream);
    return outcome;
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
    if (command.data.length > 0) {
      this.batches.push({ id, start: stream.forkOffset, bytes: command.data, mergeable: mayMergeBatches(stream.contentType), at: now });
    }
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
    if (command.data.length > 0) {
      this.batches.push({ id, start: decision.start, bytes: command.data, mergeable: mayMergeBatches(decision.next.contentType), at: now });
    }
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
      else await this.db.query({ ...this.sql.insertBatch, values: [batch.id, batch.start, batch.bytes, batch.at] });
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
        inline.map((b) => b.at),
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
        column("earliest"),
        column("removedBytes"),
        channel,
        payloads,
      ],
    });
  }
}

/** An append's bytes waiting for the round's flush; `mergeable`: it may share a row (JSON streams only); `at`: its commit time (ms). */
interface PendingBatch {
  id: number;
  start: number;
  bytes: Uint8Array;
  mergeable: boolean;
  at: number;
}

/** Merges each JSON stream's consecutive batches that continue one another, up to MERGE_LIMIT bytes a row. */
function mergeContiguous(batches: PendingBatch[]) {
  const rows: { id: number; start: number; parts: Uint8Array[]; size: number; at: number }[] = [];
  const open = new Map<number, (typeof rows)[number]>();
  for (const batch of batches) {
    const row = open.get(batch.id);
    if (batch.mergeable && row && row.start + row.size === batch.start && row.size + batch.bytes.length <= MERGE_LIMIT) {
      row.parts.push(batch.bytes);
      row.size += batch.bytes.length;
      continue;
    }
    const fresh = { id: batch.id, start: batch.start, parts: [batch.bytes], size: batch.bytes.length, at: batch.at };
    rows.push(fresh);
    open.set(batch.id, fresh);
  }
  return rows.map((row) => ({
    id: row.id,
    start: row.start,
    at: row.at,
    bytes: row.parts.length === 1 ? row.parts[0]! : Buffer.concat(row.parts, row.size),
  }));
}
