/**
 * The producer's send window: up to `maxInFlight` batches on the wire at
 * once, each stamped (epoch, seq), delivered exactly once and in order.
 *
 * Why resending is safe: the server applies seq N only after N-1 and answers
 * a repeat of an applied (epoch, seq) with 204. So
 * - a network error or 5xx is retried with the same stamp (bounded, with
 *   backoff); if the first try was applied after all, the retry is a 204;
 * - a 409 gap ("expected N") means an earlier batch has not landed yet,
 *   typically because requests overtook each other. The batch parks until
 *   batch N is acknowledged, then goes again;
 * - a 403 stale epoch with autoClaim pauses sending, waits for the wire to
 *   drain, then restamps every unacknowledged batch in the new epoch from
 *   seq 0, in order.
 * Anything else, or a batch out of retries, fails the pipeline: everything
 * unacknowledged is dropped and reported, and nothing more is sent until
 * reset() starts a new epoch (which also fences this producer's own stray
 * requests still on the network).
 *
 * The request that closes the stream is the window's last batch: it goes
 * once every earlier batch is acknowledged, under the same rules, except
 * that its own failure rejects only the close (the data before it is
 * delivered) and it keeps its stamp when queued again, so the server
 * recognises a repeated close.
 */
import { RetrySchedule, type BackoffOptions } from "../fetch/backoff.js";
import type { Outcome } from "./request.js";

type State = "ready" | "sending" | "backoff" | "parked";

export interface WindowBatch {
  epoch: number;
  seq: number;
  body: Uint8Array | undefined;
  messages: number;
  state: State;
  retries: RetrySchedule;
  /** Set on the batch that closes the stream: settles close(). */
  closing?: { resolve: (offset: string | undefined) => void; reject: (error: Error) => void };
  /** While parked: the seq the server said it expects. */
  waitingFor?: number;
  timer?: ReturnType<typeof setTimeout>;
}

export interface PipelineOptions {
  maxInFlight: number;
  autoClaim: boolean;
  backoff: BackoffOptions;
  epoch: number;
  send(batch: WindowBatch): Promise<Outcome>;
  /** Called once per pipeline failure. */
  onFailure(error: Error, droppedMessages: number): void;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  #window: WindowBatch[] = [];
  #epoch: number;
  #nextSeq = 0;
  /** The highest epoch the server has reported for this producer id. */
  #serverEpoch = -1;
  /** Target epoch while an auto-claim waits for the wire to drain. */
  #claim: number | null = null;
  #failure: Error | null = null;
  /** Bumped on failure/reset so answers to abandoned requests are ignored. */
  #generation = 0;
  #idle: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #acked = { epoch: -1, seq: -1 };
  /** The stamp of the closing request, kept until reset() so a repeated close is recognised. */
  #closeStamp: { epoch: number; seq: number } | undefined;
  /** Batches not in "ready" (on the wire, backing off or parked): at most maxInFlight. */
  #active = 0;
  #sending = 0;
  /** Stream offset after the newest acknowledged batch (when the server sent one). */
  lastOffset: string | undefined;

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#epoch = options.epoch;
  }

  get epoch(): number {
    return this.#epoch;
  }
  get nextSeq(): number {
    return this.#nextSeq;
  }
  get serverEpoch(): number {
    return this.#serverEpoch;
  }
  get failure(): Error | null {
    return this.#failure;
  }
  /** Batches not yet acknowledged (on the wire or waiting their turn). */
  get size(): number {
    return this.#window.length;
  }

  enqueue(body: Uint8Array, messages: number): void {
    if (this.#failure) throw this.#failure;
    this.#push({ epoch: this.#epoch, seq: this.#nextSeq++, body, messages });
  }

  /**
   * Queues the closing request (with an optional final message) behind
   * everything enqueued so far. Resolves with the offset the server reported;
   * rejects with the close's own failure or the pipeline's.
   */
  close(body: Uint8Array | undefined): Promise<string | undefined> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#closeStamp ??= { epoch: this.#epoch, seq: this.#nextSeq++ };
    return new Promise((resolve, reject) => {
      this.#push({ ...this.#closeStamp!, body, messages: body ? 1 : 0, closing: { resolve, reject } });
    });
  }

  #push(batch: Pick<WindowBatch, "epoch" | "seq" | "body" | "messages" | "closing">): void {
    this.#window.push({ ...batch, state: "ready", retries: new RetrySchedule(this.#options.backoff) });
    this.#pump();
  }

  /** Resolves when every batch is acknowledged; rejects if the pipeline failed. */
  whenIdle(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#window.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#idle.push({ resolve, reject }));
  }

  /** Starts over in `epoch` from seq 0, clearing a failure. The window must be empty or failed. */
  reset(epoch: number): void {
    this.#generation++;
    this.#clear();
    this.#failure = null;
    this.#claim = null;
    this.#epoch = epoch;
    this.#nextSeq = 0;
    this.#closeStamp = undefined;
  }

  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#generation++;
    let dropped = 0;
    for (const batch of this.#window) dropped += batch.messages;
    const waiters = this.#idle.splice(0);
    const closing = this.#window.find((batch) => batch.closing)?.closing;
    this.#clear();
    this.#claim = null;
    this.#options.onFailure(error, dropped);
    for (const waiter of waiters) waiter.reject(error);
    closing?.reject(error);
  }

  /**
   * A failure that ends one batch: the closing request fails alone (it goes
   * out last, so nothing after it is lost); any other fails the pipeline.
   */
  #failBatch(batch: WindowBatch, error: Error): void {
    if (!batch.closing) {
      this.fail(error);
      return;
    }
    this.#remove(batch);
    batch.closing.reject(error);
  }

  /** Takes an answered batch out of the window, waking flush() once it is empty. */
  #remove(batch: WindowBatch): void {
    this.#move(batch, "ready");
    clearTimeout(batch.timer);
    const index = this.#indexOf(batch.seq);
    if (index !== -1) this.#window.splice(index, 1);
    if (this.#window.length === 0) {
      for (const waiter of this.#idle.splice(0)) waiter.resolve();
    }
  }

  #clear(): void {
    for (const batch of this.#window) clearTimeout(batch.timer);
    this.#window = [];
    this.#active = 0;
    this.#sending = 0;
  }

  /** Every state change goes through here, keeping the counters right. */
  #move(batch: WindowBatch, to: State): void {
    const from = batch.state;
    if (from === to) return;
    this.#active += Number(to !== "ready") - Number(from !== "ready");
    this.#sending += Number(to === "sending") - Number(from === "sending");
    batch.state = to;
    if (to !== "parked") batch.waitingFor = undefined;
  }

  /**
   * Sends ready batches, in order, while fewer than maxInFlight are active.
   * Active batches sit at the front of the window (batches go out in order),
   * so this only walks the first few entries.
   */
  #pump(): void {
    if (this.#failure || this.#claim !== null) return;
    for (const batch of this.#window) {
      if (this.#active >= this.#options.maxInFlight) break;
      // The close goes alone, once everything before it is acknowledged.
      if (batch.closing && this.#window[0] !== batch) break;
      if (batch.state === "ready") void this.#send(batch);
    }
  }

  /** Position of the batch with this seq (the window is sorted by seq, one epoch at a time). */
  #indexOf(seq: number): number {
    let low = 0;
    let high = this.#window.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = this.#window[middle]!.seq;
      if (found === seq) return middle;
      if (found < seq) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  async #send(batch: WindowBatch): Promise<void> {
    this.#move(batch, "sending");
    const generation = this.#generation;
    const outcome = await this.#options.send(batch);
    if (generation !== this.#generation) return;
    switch (outcome.kind) {
      case "ok":
        this.#acknowledge(batch, outcome.offset);
        break;
      case "gap":
        this.#onGap(batch, outcome.expected, outcome.error);
        break;
      case "stale":
        this.#serverEpoch = Math.max(this.#serverEpoch, outcome.currentEpoch);
        if (!this.#options.autoClaim) {
          this.#failBatch(batch, outcome.error);
          return;
        }
        this.#claim = Math.max(this.#claim ?? 0, outcome.currentEpoch + 1, this.#epoch + 1);
        this.#move(batch, "ready");
        break;
      case "retry":
        this.#retryLater(batch, outcome.error, outcome.retryAfterMs);
        break;
      case "fatal":
        this.#failBatch(batch, outcome.error);
        return;
    }
    this.#settleClaim();
    this.#pump();
  }

  #acknowledge(batch: WindowBatch, offset: string | undefined): void {
    this.#remove(batch);
    const newest = batch.epoch > this.#acked.epoch || (batch.epoch === this.#acked.epoch && batch.seq > this.#acked.seq);
    if (newest) {
      this.#acked = { epoch: batch.epoch, seq: batch.seq };
      if (offset !== undefined) this.lastOffset = offset;
    }
    // Parked batches waiting for this one (or for one no longer pending) may
    // go again. They are active, so they are among the first entries.
    let seen = 0;
    const active = this.#active;
    for (const other of this.#window) {
      if (seen >= active) break;
      if (other.state === "ready") continue;
      seen++;
      if (other.state === "parked" && this.#indexOf(other.waitingFor!) === -1) this.#move(other, "ready");
    }
    batch.closing?.resolve(offset);
  }

  #onGap(batch: WindowBatch, expected: number, error: Error): void {
    if (this.#claim !== null) {
      this.#move(batch, "ready");
      return;
    }
    // The close goes out alone after every earlier batch landed: a gap there
    // is not a race, and sending it again would not help.
    if (expected > batch.seq || batch.closing) {
      // The server is past this batch yet did not call it a duplicate.
      this.#failBatch(batch, error);
      return;
    }
    if (this.#indexOf(expected) !== -1) {
      this.#move(batch, "parked");
      batch.waitingFor = expected;
      return;
    }
    // Nothing of ours is pending at that seq (its ack may have just raced
    // this answer): try again, counting it as a failed attempt.
    this.#retryLater(batch, error, 0);
  }

  #retryLater(batch: WindowBatch, error: Error, retryAfterMs: number): void {
    if (batch.retries.spent) {
      this.#failBatch(batch, error);
      return;
    }
    const delay = batch.retries.failed(retryAfterMs);
    this.#move(batch, "backoff");
    const generation = this.#generation;
    batch.timer = setTimeout(() => {
      batch.timer = undefined;
      if (generation !== this.#generation || batch.state !== "backoff") return;
      this.#move(batch, "ready");
      this.#settleClaim();
      this.#pump();
    }, delay);
  }

  /** Finishes an auto-claim once nothing is on the wire: restamps everything in order. */
  #settleClaim(): void {
    if (this.#claim === null || this.#sending > 0) return;
    const epoch = this.#claim;
    this.#claim = null;
    this.#epoch = epoch;
    let seq = 0;
    for (const batch of this.#window) {
      clearTimeout(batch.timer);
      batch.timer = undefined;
      this.#move(batch, "ready");
      batch.retries.reset();
      batch.epoch = epoch;
      batch.seq = seq++;
      if (batch.closing) this.#closeStamp = { epoch, seq: batch.seq };
    }
    this.#nextSeq = seq;
  }
}
