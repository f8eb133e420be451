import { log } from "../logging/logger.js";
import type { StreamState } from "../domain/model.js";

/** A committed change, reported to observers (subscriptions) after it is durable. */
export type StreamChange =
  | { type: "created"; stream: StreamState; dataBytes: number }
  /** Bytes from `start` to `stream.tail` were appended (by one append, or several reported together). */
  | { type: "appended"; stream: StreamState; start: number }
  | { type: "deleted"; path: string }
  /** Retention or compaction removed data (`count`: batches for retention, messages for compaction). */
  | { type: "trimmed"; stream: StreamState; by: "retention" | "compaction"; bytes: number; count: number };

/** Runs after the change is committed, in the background; a failure is logged and the change offered again. */
export type StreamObserver = (change: StreamChange) => void | Promise<void>;

/** Waits before offering a change again to an observer that failed on it (ms); after the last, it is given up. */
const RETRY_DELAYS_MS = [50, 250, 1000, 5000];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The engine's observers and the changes waiting for them. A write is
 * acknowledged once it is durable; its observers run after that, off the
 * write's path: `notify` only queues the change. One drain loop hands the
 * changes to every observer in commit order, one at a time, so an observer
 * sees a stream created before it sees its appends and its deletion.
 *
 * Nothing an observer does needs to happen before the acknowledgement: the
 * subscription observer raises wakes, which it commits to its own durable
 * store, and a server that stops before a wake was raised raises it when it
 * starts again (subscriptions reconcile pending work at start-up; with a
 * shared store, periodically too). An observer that fails is retried a few
 * times (RETRY_DELAYS_MS), each failure logged.
 *
 * While changes wait, consecutive appends to one stream are reported as one
 * (its latest state, from the first append's start), so an observer slower
 * than the appends costs one queued change per stream, not one per append.
 */
export class StreamObservers {
  private readonly observers = new Set<StreamObserver>();
  private readonly waiting: StreamChange[] = [];
  /** Per stream, its append change still waiting, which later appends extend. */
  private readonly openAppends = new Map<string, Extract<StreamChange, { type: "appended" }>>();
  private draining: Promise<void> | null = null;

  /** Registers an observer; returns a function that removes it. */
  add(observer: StreamObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Queues a committed change for the observers; returns at once. */
  notify(change: StreamChange): void {
    if (this.observers.size === 0) return;
    if (change.type === "appended") {
      const open = this.openAppends.get(change.stream.path);
      if (open) {
        open.stream = change.stream;
        return;
      }
      const queued = { ...change };
      this.openAppends.set(change.stream.path, queued);
      this.waiting.push(queued);
    } else {
      // A create, delete or trim closes the stream's open append: what follows is reported after it.
      this.openAppends.delete(change.type === "deleted" ? change.path : change.stream.path);
      this.waiting.push(change);
    }
    // On a later turn: not even an observer's synchronous start runs inside the write's latency.
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Resolves once every queued change has been handed to the observers (shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      for (let change = this.waiting.shift(); change; change = this.waiting.shift()) {
        if (change.type === "appended" && this.openAppends.get(change.stream.path) === change) {
          this.openAppends.delete(change.stream.path);
        }
        for (const observer of [...this.observers]) await this.deliver(observer, change);
      }
    } finally {
      this.draining = null;
    }
  }

  private async deliver(observer: StreamObserver, change: StreamChange): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await observer(change);
        return;
      } catch (error) {
        const retryInMs = RETRY_DELAYS_MS[attempt];
        const path = change.type === "deleted" ? change.path : change.stream.path;
        log().error(
          { event: "observer_failed", err: error, change: change.type, path, attempt: attempt + 1, retry_in_ms: retryInMs ?? null },
          retryInMs === undefined ? "a stream observer failed; giving this change up" : "a stream observer failed; retrying",
        );
        if (retryInMs === undefined || !this.observers.has(observer)) return;
        await sleep(retryInMs);
      }
    }
  }
}
