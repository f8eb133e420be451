import type { StreamState } from "../domain/model.js";
import { recordRound } from "../metrics/store-metrics.js";
import { CommitBacklog, type CommitBacklogLimits } from "./commit-backlog.js";
import type { Op, Pending, Settled } from "./commit-requests.js";

/** Last-access times (sliding TTLs) a round persists: path → ms since the epoch. */
export type Touches = ReadonlyMap<string, number>;

/**
 * Applies one commit round: the touches and every request, in order, in one
 * transaction; `results[i]` answers `ops[i]` (a request the rules refuse fails
 * alone). Throws, or rejects, when the round failed as a whole: every request
 * in it then fails with that error and the touches are queued again. It may
 * answer with a promise (a round whose durability is awaited off the event
 * loop): the queue settles the round when it resolves, and meanwhile starts
 * further rounds only up to `maxRoundsInFlight`. Rounds settle in the order
 * they started, whatever order their promises resolve in.
 */
export type RunRound = (ops: Op[], touches: Touches) => Settled[] | Promise<Settled[]>;

/**
 * When a round starts.
 *
 * - `linger` (SQLite, whose round runs on the event loop): on the next turn of
 *   the event loop, unless fewer requests are waiting than the previous round
 *   carried; then it lingers up to LINGER_MS for the rest of that crowd. Under
 *   steady load (the same clients coming back after each acknowledgement) that
 *   keeps one fsync per crowd instead of splitting it into a small round and a
 *   large one; an idle server (rounds of one) never waits.
 * - `serial` (PostgreSQL, whose round is a conversation with the database):
 *   one round at a time, started on the next turn when the queue is idle; what
 *   arrives while a round runs makes up the next, started as soon as it ends.
 *   Running rounds one at a time keeps requests issued in order (a producer's
 *   pipelined seqs) in order.
 */
export type RoundPolicy = "linger" | "serial";

/** Longest a `linger` round waits for the rest of the previous round's crowd (ms). */
const LINGER_MS = 1;

export interface CommitQueueOptions {
  /** The store's name: the metrics label, and the message of requests made after close. */
  store: "sqlite" | "postgres";
  policy: RoundPolicy;
  /** Longest a touch stays in memory only before a round is forced to persist it (ms). */
  touchFlushMs: number;
  /** Bound on appends waiting to be committed (count and bytes; absent or 0: none). */
  limits?: CommitBacklogLimits;
  /**
   * Rounds that may have answered with a promise and not settled yet when the
   * next one starts (default 1: none starts before the previous one settled).
   * A store whose round has committed by the time it answers, and only awaits
   * the disk, lets the next commit overlap that wait.
   */
  maxRoundsInFlight?: number;
  runRound: RunRound;
}

const STORE_NAMES = { sqlite: "SQLite", postgres: "PostgreSQL" } as const;

/**
 * The commit queue of a SQL store: everything the SQLite and PostgreSQL stores
 * share around their own transaction (`runRound`). It holds the requests
 * waiting for a round (bounded by a CommitBacklog: a full queue refuses
 * appends with 503 COMMIT_QUEUE_FULL), decides when a round starts (the
 * store's RoundPolicy), hands each round the requests and the touches queued
 * so far, settles every request from its result, and records the round's
 * metrics.
 *
 * Touches — last-access times of streams with a sliding TTL — are kept in
 * memory and persisted by the next round; a timer forces a round by each
 * touch's deadline (`touchFlushMs` unless the store asks for sooner). A round
 * that fails puts its touches back, to be retried when the timer fires again.
 *
 * `close()` refuses new requests, waits for the rounds in flight, then commits
 * whatever is still queued (touches included) before the store goes.
 */
export class CommitQueue {
  private readonly options: CommitQueueOptions;
  private readonly backlog: CommitBacklog;
  private readonly maxInFlight: number;
  private queue: Pending[] = [];
  /** Last-access times newer than the stored ones, not yet handed to a round. */
  private touches = new Map<string, number>();
  /**
   * One entry per round started and not settled yet, oldest first (rounds settle in that order): its
   * touches, still newer than what reads of the database may see.
   */
  private inFlight: Touches[] = [];

  /** A round to start on the next turn of the event loop. */
  private scheduled: NodeJS.Immediate | null = null;
  /** A `linger` round waiting for the rest of the crowd. */
  private lingering: NodeJS.Timeout | null = null;
  /** Requests the last round carried: the crowd the next `linger` round waits a moment for. */
  private lastRoundSize = 1;
  private touchTimer: NodeJS.Timeout | null = null;
  /** When the armed touch timer fires (ms since the epoch). */
  private touchTimerAt = 0;
  /** Settles once every round started so far has settled: the next round's results, and close(), wait for it. */
  private settledInOrder: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: CommitQueueOptions) {
    this.options = options;
    this.maxInFlight = Math.max(1, options.maxRoundsInFlight ?? 1);
    this.backlog = new CommitBacklog(options.limits);
  }

  /** Queues a request; it settles once the round that carries it has committed (or failed). */
  enqueue<T>(op: Op): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`the ${STORE_NAMES[this.options.store]} store is closed`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push(this.backlog.hold(op, resolve as (value: never) => void, reject));
      this.schedule();
    });
  }

  /**
   * Records that `path` was read at `at`, to be persisted by a round no later
   * than `flushBy` (ms since the epoch; default `touchFlushMs` from now). The
   * store decides which streams need touching (those with a sliding TTL).
   */
  touch(path: string, at: number, flushBy = Date.now() + this.options.touchFlushMs): void {
    if (at <= (this.touches.get(path) ?? 0)) return;
    this.touches.set(path, at);
    // A round already scheduled takes this touch with it.
    if (this.scheduled === null) this.armTouchTimer(flushBy);
  }

  /** `state` with the newest last-access time this queue holds for it (touches not persisted yet). */
  withTouch(state: StreamState): StreamState {
    if (state.ttlSeconds === null) return state;
    let touched = this.touches.get(state.path) ?? 0;
    for (const round of this.inFlight) touched = Math.max(touched, round.get(state.path) ?? 0);
    return touched > state.lastAccessAt ? { ...state, lastAccessAt: touched } : state;
  }

  /** Requests waiting for a round (the commit queue depth metric). */
  get pending(): number {
    return this.queue.length;
  }

  /** Refuses new requests, then commits everything queued (or fails it, if the store cannot). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    await this.settledAll();
    if (this.queue.length > 0 || this.touches.size > 0) this.startRound();
    await this.settledAll();
  }

  private async settledAll(): Promise<void> {
    // A round settling may start the next one, which extends the chain: wait until none is left.
    while (this.inFlight.length > 0) await this.settledInOrder;
  }

  private schedule(): void {
    if (this.closed || this.inFlight.length >= this.maxInFlight) return; // a round's end schedules the next
    if (this.options.policy === "serial") {
      this.scheduled ??= setImmediate(() => this.startRound());
    } else if (this.queue.length >= this.lastRoundSize) {
      if (this.lingering !== null) clearTimeout(this.lingering);
      this.lingering = null;
      this.scheduled ??= setImmediate(() => this.startRound());
    } else if (this.scheduled === null && this.lingering === null) {
      this.lingering = setTimeout(() => {
        this.lingering = null;
        this.scheduled ??= setImmediate(() => this.startRound());
      }, LINGER_MS);
    }
  }

  /** Forces a round by `flushBy` at the latest, so touches reach the store without waiting for a write. */
  private armTouchTimer(flushBy: number): void {
    if (this.closed || (this.touchTimer !== null && this.touchTimerAt <= flushBy)) return;
    if (this.touchTimer !== null) clearTimeout(this.touchTimer);
    this.touchTimerAt = flushBy;
    this.touchTimer = setTimeout(() => {
      this.touchTimer = null;
      this.schedule();
    }, Math.max(0, flushBy - Date.now()));
    this.touchTimer.unref();
  }

  private clearTimers(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    if (this.lingering !== null) clearTimeout(this.lingering);
    this.lingering = null;
    if (this.touchTimer !== null) clearTimeout(this.touchTimer);
    this.touchTimer = null;
  }

  /** Hands everything queued to one round; settles it now if the round answered at once, else when it does. */
  private startRound(): void {
    this.scheduled = null;
    if (this.lingering !== null) clearTimeout(this.lingering);
    this.lingering = null;
    if (this.inFlight.length >= this.maxInFlight) return;
    const batch = this.queue;
    const touches = this.touches;
    if (batch.length === 0 && touches.size === 0) return;
    this.queue = [];
    this.touches = new Map();
    if (touches.size > 0 && this.touchTimer !== null) {
      clearTimeout(this.touchTimer);
      this.touchTimer = null;
    }
    this.lastRoundSize = Math.max(1, batch.length);
    const startedAt = performance.now();
    let answer: Settled[] | Promise<Settled[]>;
    try {
      answer = this.options.runRound(
        batch.map((pending) => pending.op),
        touches,
      );
    } catch (error) {
      if (this.inFlight.length === 0) {
        this.failed(batch, touches, error);
        this.next(false);
        return;
      }
      answer = Promise.reject(error);
    }
    if (!(answer instanceof Promise) && this.inFlight.length === 0) {
      this.succeeded(batch, answer, startedAt);
      this.next(true);
      return;
    }
    // Settled after every round started before it, even if its own answer comes first.
    this.inFlight.push(touches);
    const outcome = Promise.resolve(answer).then(
      (results) => ({ ok: true as const, results }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    this.settledInOrder = this.settledInOrder
      .then(() => outcome)
      .then((result) => {
        this.inFlight.shift();
        if (result.ok) this.succeeded(batch, result.results, startedAt);
        else this.failed(batch, touches, result.error);
        this.next(result.ok);
      });
  }

  private succeeded(batch: readonly Pending[], results: readonly Settled[], startedAt: number): void {
    recordRound(this.options.store, startedAt, batch.length);
    batch.forEach((pending, i) => {
      const result = results[i]!;
      if (result.ok) pending.resolve(result.value as never);
      else pending.reject(result.error);
    });
  }

  /** The whole round failed: its requests fail with its error, its touches wait for the timer to be retried. */
  private failed(batch: readonly Pending[], touches: Touches, error: unknown): void {
    for (const [path, at] of touches) {
      if (at > (this.touches.get(path) ?? 0)) this.touches.set(path, at);
    }
    if (this.touches.size > 0) this.armTouchTimer(Date.now() + this.options.touchFlushMs);
    for (const pending of batch) pending.reject(error);
  }

  /**
   * After a round: requests that arrived meanwhile make up the next one. A
   * `serial` queue starts it at once, with the touches too unless the round
   * just failed (those wait for their timer rather than being retried at
   * once); a `linger` queue schedules it by its rule.
   */
  private next(ok: boolean): void {
    if (this.options.policy === "serial") {
      if (this.queue.length > 0 || (ok && this.touches.size > 0)) this.startRound();
    } else if (this.queue.length > 0) {
      this.schedule();
    }
  }
}
