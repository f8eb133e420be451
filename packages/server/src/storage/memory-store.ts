import type { AppendCommand, AppendOutcome, CreateOutcome, DeleteOutcome } from "../domain/commands.js";
import { decideAppend } from "../domain/append-rules.js";
import { decideCreate } from "../domain/create-rules.js";
import { planDelete, type DeletePlan } from "../domain/delete-rules.js";
import { expiryTime, type ProducerState, type RetentionPolicy, type StreamState } from "../domain/model.js";
import { planRetention } from "../domain/retention-rules.js";
import { batchHolding, EMPTY_READ, sliceBatches, type RangeRead } from "./batches.js";
import { compactedState, HEAD_BATCHES, matchesPlan } from "./trim.js";
import type { Store, TrimOutcome, StoreUsage } from "./store.js";
import type { ResolvedCreateCommand } from "../domain/commands.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";
import type { StoredBatch, TimedBatch } from "../domain/model.js";

interface Batches {
  starts: number[];
  chunks: Uint8Array[];
  /** Commit time of each batch (ms). */
  times: number[];
}

/**
 * What a stream never appended to reads as: it gets a batch record of its own
 * only with its first batch, so an idle stream costs its state alone. Never
 * written to (every write goes through ownBatches).
 */
const NO_BATCHES: Readonly<Batches> = Object.freeze({ starts: [], chunks: [], times: [] });

/**
 * Keeps everything in process memory: for tests and `--memory`. Nothing
 * survives a restart. Operations run synchronously inside an async method,
 * which makes each one atomic with respect to the others.
 */
export class MemoryStore implements Store {
  readonly kind = "memory";
  private readonly streams = new Map<string, StreamState>();
  private readonly batches = new Map<string, Batches>();
  private readonly producers = new Map<string, Map<string, ProducerState>>();

  async getStream(path: string): Promise<StreamState | undefined> {
    return this.streams.get(path);
  }

  async create(command: ResolvedCreateCommand, now: number): Promise<CreateOutcome> {
    const existing = this.streams.get(command.path);
    const source = command.fork ? this.streams.get(command.fork.source) : undefined;
    const decision = decideCreate(existing, source, command, now);
    if (decision.kind === "exists") return { created: false, stream: decision.stream };
    // Only an expired stream no fork reads through is replaced; it goes as a delete would.
    if (existing) this.applyPlan(planDelete(existing.path, (p) => this.streams.get(p)));
    const stream = decision.stream;
    this.streams.set(stream.path, stream);
    if (command.data.length > 0) this.pushBatch(stream.path, stream.forkOffset, command.data, now);
    const current = command.fork ? this.streams.get(command.fork.source) : undefined;
    if (current) this.streams.set(current.path, { ...current, forkCount: current.forkCount + 1 });
    return { created: true, stream };
  }

  async append(command: AppendCommand, now: number): Promise<AppendOutcome> {
    const stream = this.streams.get(command.path);
    const producerId = command.producer?.id;
    const known = producerId === undefined ? undefined : this.producers.get(command.path)?.get(producerId);
    const decision = decideAppend(stream, known, command, now);
    if (decision.kind === "duplicate") {
      return { kind: "duplicate", stream: decision.stream, start: decision.stream.tail, producer: decision.echo };
    }
    if (command.data.length > 0) this.pushBatch(command.path, decision.start, command.data, now);
    this.streams.set(command.path, decision.next);
    if (producerId !== undefined && decision.producer) {
      let byId = this.producers.get(command.path);
      if (!byId) this.producers.set(command.path, (byId = new Map()));
      byId.set(producerId, decision.producer);
    }
    return { kind: "appended", stream: decision.next, start: decision.start, producer: decision.echo };
  }

  async readRange(path: string, from: number, to: number, maxBytes: number, splitBatches: boolean): Promise<RangeRead> {
    const batches = this.batchesOf(path);
    if (!batches) return EMPTY_READ(from);
    return sliceBatches(batches.starts, batches.chunks, from, to, maxBytes, splitBatches);
  }

  async batchAt(path: string, position: number): Promise<StoredBatch | undefined> {
    const batches = this.batchesOf(path);
    return batches ? batchHolding(batches.starts, batches.chunks, position) : undefined;
  }

  async scanBatches(path: string, from: number, to: number, limit: number): Promise<TimedBatch[]> {
    const batches = this.batches.get(path);
    const found: TimedBatch[] = [];
    if (!batches) return found;
    for (let i = 0; i < batches.starts.length && found.length < limit; i++) {
      const start = batches.starts[i]!;
      if (start >= from && start < to) found.push({ start, bytes: batches.chunks[i]!, appendedAt: batches.times[i]! });
    }
    return found;
  }

  async retain(path: string, policy: RetentionPolicy, now: number): Promise<TrimOutcome | null> {
    const stream = this.streams.get(path);
    const batches = this.batchesOf(path);
    if (!stream || !batches) return null;
    const head = batches.starts.slice(0, HEAD_BATCHES).map((start, i) => ({
      start,
      bytes: batches.chunks[i]!.length,
      appendedAt: batches.times[i]!,
    }));
    const forkLimit = stream.forkCount > 0 ? this.forkLimit(path) : null;
    const plan = planRetention(stream, policy, head, forkLimit, now);
    if (!plan) return null;
    let count = 0;
    while (count < batches.starts.length && batches.starts[count]! < plan.removeBelow) count++;
    if (count > 0) {
      const own = this.ownBatches(path);
      own.starts.splice(0, count);
      own.chunks.splice(0, count);
      own.times.splice(0, count);
    }
    const next = { ...stream, earliest: plan.earliest, removedBytes: stream.removedBytes + plan.removedBytes };
    this.streams.set(path, next);
    return { stream: next, removedBytes: plan.removedBytes, removedCount: plan.removedBatches };
  }

  async compact(path: string, rewrites: readonly BatchRewrite[]): Promise<TrimOutcome | null> {
    const stream = this.streams.get(path);
    const batches = this.batchesOf(path);
    if (!stream || !batches || stream.forkCount > 0) return null;
    const applied: BatchRewrite[] = [];
    for (const rewrite of rewrites) {
      const index = batches.starts.indexOf(rewrite.start);
      if (index < 0 || !matchesPlan(rewrite, batches.chunks[index]!.length)) continue;
      // Only a stream with batches gets here (NO_BATCHES has none to match).
      batches.starts.splice(index, 1, ...rewrite.pieces.map((piece) => piece.start));
      batches.chunks.splice(index, 1, ...rewrite.pieces.map((piece) => piece.bytes));
      batches.times.splice(index, 1, ...rewrite.pieces.map(() => rewrite.appendedAt));
      applied.push(rewrite);
    }
    const outcome = compactedState(stream, applied);
    this.streams.set(path, outcome.stream);
    return outcome;
  }

  async touch(path: string, now: number): Promise<void> {
    const stream = this.streams.get(path);
    if (stream && stream.ttlSeconds !== null) this.streams.set(path, { ...stream, lastAccessAt: now });
  }

  async delete(path: string): Promise<DeleteOutcome> {
    const plan = planDelete(path, (p) => this.streams.get(p));
    this.applyPlan(plan);
    return { soft: plan.soft };
  }

  async sweepExpired(now: number): Promise<string[]> {
    const expired: string[] = [];
    for (const stream of this.streams.values()) {
      const at = expiryTime(stream);
      if (!stream.softDeleted && at !== null && now >= at) expired.push(stream.path);
    }
    for (const path of expired) await this.delete(path);
    return expired;
  }

  async countStreams(): Promise<number> {
    return this.streams.size;
  }

  async list(prefix: string, after: string | null, limit: number): Promise<StreamState[]> {
    const paths = [...this.streams.keys()]
      .filter((p) => p.startsWith(prefix) && (after === null || p > after))
      .sort()
      .slice(0, limit);
    return paths.map((p) => this.streams.get(p)!);
  }

  async usage(): Promise<StoreUsage> {
    let streams = 0;
    for (const stream of this.streams.values()) if (!stream.softDeleted) streams++;
    let bytes = 0;
    for (const { chunks } of this.batches.values()) for (const chunk of chunks) bytes += chunk.length;
    return { streams, bytes };
  }

  async close(): Promise<void> {}

  private pushBatch(path: string, start: number, data: Uint8Array, now: number): void {
    const batches = this.ownBatches(path);
    batches.starts.push(start);
    batches.chunks.push(data);
    batches.times.push(now);
  }

  /** The stream's batches (NO_BATCHES while it has none), or undefined when there is no such stream. */
  private batchesOf(path: string): Readonly<Batches> | undefined {
    return this.batches.get(path) ?? (this.streams.has(path) ? NO_BATCHES : undefined);
  }

  /** The stream's own, writable batch record, made on its first batch. */
  private ownBatches(path: string): Batches {
    let batches = this.batches.get(path);
    if (!batches) this.batches.set(path, (batches = { starts: [], chunks: [], times: [] }));
    return batches;
  }

  /** The lowest earliest position among the stream's forks: below it they no longer read. */
  private forkLimit(path: string): number | null {
    let limit: number | null = null;
    for (const other of this.streams.values()) {
      if (other.forkedFrom === path) limit = Math.min(limit ?? Infinity, other.earliest);
    }
    return limit;
  }

  private applyPlan(plan: DeletePlan): void {
    for (const stream of plan.update) this.streams.set(stream.path, stream);
    this.removeAll(plan.remove);
  }

  private removeAll(paths: string[]): void {
    for (const path of paths) {
      this.streams.delete(path);
      this.batches.delete(path);
      this.producers.delete(path);
    }
  }
}
