import { ProtocolError } from "../domain/errors.js";
import type { Op, Pending } from "./commit-requests.js";

export interface CommitBacklogLimits {
  /** Appends waiting for or in a commit round (0: no bound). */
  maxAppends: number;
  /** Their body bytes (0: no bound). */
  maxBytes: number;
}

/** Seconds a refused append is told to wait: a commit round takes milliseconds, a stalled store longer. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Bounds what a SQL store's commit queue holds. An append counts from the
 * moment it is queued until its round has settled it; when the store falls
 * behind, new appends are refused with 503 + Retry-After instead of piling
 * up in memory (an idempotent producer retries them; nothing was applied).
 * Creates, deletes and sweeps are never refused: they are rare and small.
 */
export class CommitBacklog {
  private appends = 0;
  private bytes = 0;

  constructor(private readonly limits: CommitBacklogLimits = { maxAppends: 0, maxBytes: 0 }) {}

  /** Queues `op` as a Pending that releases its share when settled; throws a 503 when the bound is reached. */
  hold(op: Op, resolve: (value: never) => void, reject: (error: unknown) => void): Pending {
    if (op.kind !== "append") return { op, resolve, reject };
    const size = op.command.data.length;
    const { maxAppends, maxBytes } = this.limits;
    if (maxAppends > 0 && this.appends >= maxAppends) {
      throw full(`${this.appends} appends (the limit is ${maxAppends})`);
    }
    // An append larger than the whole bound still gets through an empty queue, or it could never be stored.
    if (maxBytes > 0 && this.appends > 0 && this.bytes + size > maxBytes) {
      throw full(`${this.bytes} bytes of appends (the limit is ${maxBytes})`);
    }
    this.appends++;
    this.bytes += size;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.appends--;
      this.bytes -= size;
    };
    return {
      op,
      resolve: (value) => {
        release();
        resolve(value);
      },
      reject: (error) => {
        release();
        reject(error);
      },
    };
  }

  /** Appends and bytes currently held, for metrics and tests. */
  get size(): { appends: number; bytes: number } {
    return { appends: this.appends, bytes: this.bytes };
  }
}

function full(what: string): ProtocolError {
  return new ProtocolError("COMMIT_QUEUE_FULL", `the store is behind: ${what} already wait to be committed`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
}
