import { isJsonContentType } from "@rill/protocol";
import type { Store } from "../storage/store.js";
import type { TimedBatch } from "../domain/model.js";
import { planCompaction } from "../domain/compaction-rules.js";
import { storedBytes, type RetentionPolicy, type StreamState } from "../domain/model.js";
import { effectiveRetention, type RetentionDefaults, type RetentionRule } from "../domain/retention-rules.js";
import type { StreamChange } from "./stream-observers.js";
import { log } from "../logging/logger.js";
import { trimmedBytes, trimmedMessages } from "../metrics/store-metrics.js";

export interface MaintenanceOptions {
  /** Server-wide retention defaults by path pattern (`--retention`). */
  retention: RetentionRule[];
  /** Batches younger than this are never compacted (`--compaction-lag`, ms). */
  compactionLagMs: number;
  /** How often a pass over a page of streams runs (ms); 0 turns background passes off. */
  intervalMs: number;
  /** Streams one pass looks at; the next pass goes on from there. */
  pageSize: number;
}

export const MAINTENANCE_DEFAULTS = { compactionLagMs: 30_000, intervalMs: 5_000, pageSize: 500 } as const;

/** Rows one compaction read asks the store for at a time. */
const SCAN_PAGE = 1000;

/**
 * The background worker behind retention and key compaction. Each pass takes
 * the next page of streams (wrapping around), applies retention to those that
 * have a policy and compacts those created with `Rill-Compaction: key` that
 * may have something to remove. Every change goes through the store's own
 * atomic operations, so passes can overlap with appends (and, on PostgreSQL,
 * with other servers' passes) safely.
 */
export class Maintainer {
  private readonly options: MaintenanceOptions;
  private timer: NodeJS.Timeout | null = null;
  private cursor: string | null = null;
  private running: Promise<void> | null = null;
  private failing = false;
  /** Per compacted stream: the tail at its last pass and when waiting alone could free more. */
  private readonly compacted = new Map<string, { tail: number; recheckAt: number | null }>();
  /** Compacted streams seen in the current round over all pages; the rest are forgotten when it ends. */
  private seenThisRound = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly defaults: RetentionDefaults,
    options: Partial<MaintenanceOptions>,
    private readonly now: () => number,
    private readonly notify: (change: StreamChange) => void,
  ) {
    this.options = { ...MAINTENANCE_DEFAULTS, retention: [], ...options };
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(() => void this.pass(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  get compactionLagMs(): number {
    return this.options.compactionLagMs;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Runs over every stream once, start to end (tests and tools; the timer does one page at a time). */
  async runAll(): Promise<void> {
    await this.running;
    let after: string | null = null;
    for (;;) {
      const page = await this.store.list("", after, this.options.pageSize);
      for (const stream of page) await this.maintain(stream);
      if (page.length < this.options.pageSize) return this.forgetUnseen();
      after = page[page.length - 1]!.path;
    }
  }

  private pass(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const page = await this.store.list("", this.cursor, this.options.pageSize);
        this.cursor = page.length < this.options.pageSize ? null : page[page.length - 1]!.path;
        for (const stream of page) await this.maintain(stream);
        if (this.cursor === null) this.forgetUnseen();
        if (this.failing) log().info({ event: "maintenance_recovered" }, "retention and compaction passes work again");
        this.failing = false;
      } catch (error) {
        // Once per run of failures (a database outage would otherwise log every interval).
        if (!this.failing) {
          log().error({ event: "maintenance_failed", err: error }, "a retention/compaction pass failed; retried every interval");
        }
        this.failing = true;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Drops what is remembered about compacted streams that were deleted since. */
  private forgetUnseen(): void {
    for (const path of this.compacted.keys()) if (!this.seenThisRound.has(path)) this.compacted.delete(path);
    this.seenThisRound = new Set();
  }

  /** Retention, then compaction, of one stream. */
  async maintain(stream: StreamState): Promise<void> {
    const policy = effectiveRetention(stream, this.defaults);
    if (policy && mayRetainSomething(stream, policy)) {
      const trimmed = await this.store.retain(stream.path, policy, this.now());
      if (trimmed) {
        stream = trimmed.stream;
        await this.trimmed({ type: "trimmed", stream, by: "retention", bytes: trimmed.removedBytes, count: trimmed.removedCount });
      }
    }
    if (stream.compaction && isJsonContentType(stream.contentType)) await this.compact(stream);
  }

  /** Counts what a pass removed and tells the engine's observers. */
  private async trimmed(change: Extract<StreamChange, { type: "trimmed" }>): Promise<void> {
    trimmedBytes.at(change.by).inc(change.bytes);
    trimmedMessages.at(change.by).inc(change.count);
    this.notify(change);
  }

  private async compact(stream: StreamState): Promise<void> {
    this.seenThisRound.add(stream.path);
    const now = this.now();
    const last = this.compacted.get(stream.path);
    if (last && last.tail === stream.tail && (last.recheckAt === null || now < last.recheckAt)) return;
    if (stream.forkCount > 0) return; // forks read this stream's bytes as they are
    const batches: TimedBatch[] = [];
    for (let from = stream.forkOffset; ; ) {
      const page = await this.store.scanBatches(stream.path, from, stream.tail, SCAN_PAGE);
      batches.push(...page);
      const lastBatch = page[page.length - 1];
      if (page.length < SCAN_PAGE || !lastBatch) break;
      from = lastBatch.start + 1;
    }
    const plan = planCompaction(batches, stream.compaction!, now, this.options.compactionLagMs);
    this.compacted.set(stream.path, { tail: stream.tail, recheckAt: plan.recheckAt });
    if (plan.rewrites.length === 0) return;
    const outcome = await this.store.compact(stream.path, plan.rewrites);
    if (outcome && outcome.removedCount > 0) {
      await this.trimmed({
        type: "trimmed",
        stream: outcome.stream,
        by: "compaction",
        bytes: outcome.removedBytes,
        count: outcome.removedCount,
      });
    }
  }
}

/**
 * Whether retention could remove anything, judged from the state alone: a
 * stream that holds nothing, or holds no more than a size-only limit allows,
 * needs no visit to the store. An age limit always needs one (batch times are
 * stored with the batches).
 */
function mayRetainSomething(stream: StreamState, policy: RetentionPolicy): boolean {
  if (stream.earliest >= stream.tail) return false;
  if (policy.maxAgeSeconds !== null) return true;
  const held = storedBytes(stream) + Math.max(0, stream.forkOffset - stream.earliest);
  return policy.maxBytes !== null && held > policy.maxBytes;
}
