/**
 * Retry timing: exponential backoff with full jitter (a uniformly random
 * delay between zero and the exponential ceiling), never shorter than what
 * the server asked for with Retry-After.
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
