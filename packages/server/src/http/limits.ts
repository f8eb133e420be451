import { ProtocolError } from "../domain/errors.js";

/**
 * What one server lets its clients hold: connections, live readers, streams,
 * time to send a request, memory queued for writes and for slow readers.
 * Every limit answers a refusal the client can act on (503 + Retry-After, or
 * 429 for a limit on one client address) instead of letting a hostile or
 * broken client exhaust the process. Zero turns a limit off, except for the
 * head size, the keep-alive timeout and the pending output of a reader.
 */
export interface ServerLimits {
  /** Open connections in total; past it a new connection gets 503 and is closed. */
  maxConnections: number;
  /** Open connections from one client address; past it 429. Behind a proxy every client shares its address. */
  maxConnectionsPerIp: number;
  /** Live readers (SSE and waiting long-polls) on one stream; past it 503. */
  maxReadersPerStream: number;
  /** Largest request head (request line and headers) in bytes; past it 431. */
  maxHeaderSize: number;
  /** Streams stored on this server (off by default); past it a create gets 503. */
  maxStreams: number;
  /** Time a client has to send a complete request head; then 408 and the connection is closed. */
  headersTimeoutMs: number;
  /**
   * Longest a request body may go without a new byte (an idle bound, so a
   * long streamed body that keeps flowing is never cut); then 408.
   */
  bodyTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** Appends waiting for (or in) a commit round; past it new appends get 503. */
  maxQueuedAppends: number;
  /** Body bytes of those appends; past it new appends get 503. */
  maxQueuedBytes: number;
  /**
   * Output a live (SSE) reader may have pending on its connection. A reader
   * past it gets no more pushed frames; once its socket drains it catches up
   * from storage at its own offset.
   */
  maxPendingOutputBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxConnections: 10_000,
  maxConnectionsPerIp: 1_000,
  maxReadersPerStream: 10_000,
  maxHeaderSize: 16 * 1024,
  maxStreams: 0,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  // Longer than the usual 60 s idle timeout of load balancers in front, so they never reuse a connection we are closing.
  keepAliveTimeoutMs: 65_000,
  maxQueuedAppends: 10_000,
  maxQueuedBytes: 256 * 1024 * 1024,
  maxPendingOutputBytes: 2 * 1024 * 1024,
});

/** Limits that cannot be turned off: a request head, an idle connection and a reader's backlog always have a bound. */
const ALWAYS_ON: ReadonlySet<keyof ServerLimits> = new Set(["maxHeaderSize", "keepAliveTimeoutMs", "maxPendingOutputBytes"]);

/** Fills in the defaults and refuses values that cannot be limits. */
export function resolveLimits(given: Partial<ServerLimits> | undefined): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(given ?? {}) as [keyof ServerLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new Error(`limit ${name} must be a number ≥ 0, got ${String(value)}`);
    if (value === 0 && ALWAYS_ON.has(name)) throw new Error(`limit ${name} cannot be 0 (it cannot be turned off)`);
    limits[name] = value;
  }
  return limits;
}

/** Seconds a refused client is told to wait before trying again. */
export const RETRY_AFTER_SECONDS = { connections: 1, readers: 5, streams: 60 } as const;

export function tooManyReaders(path: string, limit: number): ProtocolError {
  return new ProtocolError(
    "TOO_MANY_READERS",
    `stream ${path} already has ${limit} live readers, the most this server allows`,
    { retryAfterSeconds: RETRY_AFTER_SECONDS.readers },
  );
}

export function tooManyStreams(limit: number): ProtocolError {
  return new ProtocolError("TOO_MANY_STREAMS", `this server already holds ${limit} streams, the most it allows`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS.streams,
  });
}
