/**
 * Retry timing: exponential backoff with full jitter (a uniformly random
 * delay between zero and the exponential ceiling), never shorter than what
 * the server asked for with Retry-After. RetrySchedule is the one retry
 * primitive every retry loop of the client uses: the fetch wrapper, the read
 * session and the producer's pipeline (whose last batch is the close).
 */
import { FetchBackoffAbortError } from "../errors.js";

export interface BackoffOptions {
  /** Ceiling of the first retry's delay, in ms. */
  initialDelay: number;
  /** Largest ceiling, in ms. */
  maxDelay: number;
  /** Growth of the ceiling per attempt. */
  multiplier: number;
  /** Retries before giving up (Infinity: never give up). */
  maxRetries?: number;
  /** Called before each retry's wait. */
  onFailedAttempt?: () => void;
  /** Log retries to the console. */
  debug?: boolean;
}

export const BackoffDefaults: BackoffOptions = {
  initialDelay: 100,
  maxDelay: 30_000,
  multiplier: 2,
  maxRetries: Infinity,
};

/** A server-requested wait is honoured up to this long. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export function resolveBackoff(options: Partial<BackoffOptions> | undefined, defaults: BackoffOptions = BackoffDefaults): BackoffOptions {
  return { ...defaults, ...stripUndefined(options ?? {}) };
}

/**
 * Delay before retry number `attempt` (0 for the first retry).
 * `random` is injectable so tests can pin the jitter.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs = 0,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelay, options.initialDelay * Math.pow(options.multiplier, attempt));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/**
 * The failed attempts of one operation: how long to wait before the next
 * attempt, and whether the retry budget (maxRetries) is spent. Each failure
 * is reported to onFailedAttempt before its wait.
 */
export class RetrySchedule {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** Failures counted since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** True once maxRetries failures have each been retried: the next failure is final. */
  get spent(): boolean {
    return this.#failures >= (this.#options.maxRetries ?? Infinity);
  }

  /** Counts a failure and returns the wait before the next attempt (at least `retryAfterMs`). */
  failed(retryAfterMs = 0): number {
    const delay = backoffDelay(this.#failures++, this.#options, retryAfterMs, this.#random);
    this.#options.onFailedAttempt?.();
    return delay;
  }

  /** Counts a failure and waits it out; rejects with FetchBackoffAbortError if the signal fires. */
  wait(signal?: AbortSignal, retryAfterMs = 0): Promise<void> {
    return sleep(this.failed(retryAfterMs), signal);
  }

  /** After a success: the next failure starts from the first delay again. */
  reset(): void {
    this.#failures = 0;
  }
}

/**
 * Retry-After in ms: delta-seconds or an HTTP date. 0 when absent or
 * unreadable; a date in the past also gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number {
  if (!value) return 0;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return 0;
  return Math.max(0, date - now);
}

/**
 * Waits `ms`, or rejects with FetchBackoffAbortError as soon as the signal
 * fires; the timer is always cleared.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new FetchBackoffAbortError(signal.reason));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new FetchBackoffAbortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== undefined) (out as Record<string, unknown>)[key] = entry;
  }
  return out;
}
