import type { ServerResponse } from "node:http";
import { ProtocolError } from "../domain/errors.js";
import type { LiveHub } from "../engine/live-hub.js";
import { log } from "../logging/logger.js";
import { tooManyReaders } from "./limits.js";
import { renderError } from "./respond.js";

/** A live reader (SSE, or a long-poll that waits): the owner ends it on shutdown and ticks it meanwhile. */
export interface LiveSession {
  /** How the reader waits (the `mode` label of rill_live_readers). */
  readonly mode: "sse" | "long-poll";
  /** The stream it reads. */
  readonly path: string;
  /** Ends the reader now: a long-poll answers with what it has, an SSE response ends. */
  end(): void;
  /** Periodic housekeeping from the shared ticker (keep-alives, recycling, token expiry). */
  tick?(now: number): void;
}

export interface LiveSessionsOptions {
  hub: LiveHub;
  /** Live readers one stream may have; 0: no limit. */
  maxReadersPerStream: number;
  /** The ticker's period: often enough for keep-alives and recycling, never more than once a second. */
  tickMs: number;
}

/**
 * The one owner of the server's live readers: admits them (the per-stream
 * limit), holds the set (metrics count it), runs one shared ticker for all
 * of them instead of timers per connection, and ends them on shutdown. The
 * ticker runs only while there is a reader to tick.
 */
export class LiveSessions {
  private readonly sessions = new Set<LiveSession>();
  private ticker: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: LiveSessionsOptions) {}

  /** Refuses a reader that would wait live on a stream already at its limit of live readers. */
  admit(path: string): void {
    const limit = this.options.maxReadersPerStream;
    if (limit > 0 && this.options.hub.readersOf(path) >= limit) throw tooManyReaders(path, limit);
  }

  add(session: LiveSession): void {
    if (this.closed) {
      // Shutdown already ended every reader; one that arrives late ends at once too.
      session.end();
      return;
    }
    this.sessions.add(session);
    if (this.ticker === null) {
      this.ticker = setInterval(() => this.tick(), this.options.tickMs);
      this.ticker.unref();
    }
  }

  delete(session: LiveSession): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.stopTicker();
  }

  /** Live readers by mode, for the rill_live_readers gauge. */
  count(mode: LiveSession["mode"]): number {
    let n = 0;
    for (const session of this.sessions) if (session.mode === mode) n++;
    return n;
  }

  /** Shutdown: ends every reader and admits no more. */
  close(): void {
    this.closed = true;
    this.stopTicker();
    for (const session of [...this.sessions]) session.end();
  }

  private tick(): void {
    const now = Date.now();
    for (const session of [...this.sessions]) session.tick?.(now);
  }

  private stopTicker(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
  }
}

/**
 * The one error policy of live readers. A failure while a reader waits or
 * streams never reaches the router (the request has long been routed) and
 * never crashes the server: it is logged with the stream — at debug for a
 * protocol answer (the stream went away, retention passed the reader), at
 * warn for anything else — and the response is closed cleanly: an answer
 * not yet begun becomes the error's status, a streaming one simply ends (the
 * client reconnects from its last offset and hears the status then).
 */
export function failLiveRead(res: ServerResponse, session: Pick<LiveSession, "mode" | "path">, error: unknown): void {
  const expected = error instanceof ProtocolError;
  const fields = { event: "live_read_failed", mode: session.mode, path: session.path, err: error };
  if (expected) log().debug(fields, "a live read ended with a protocol error");
  else log().warn(fields, "a live read failed");
  if (!res.headersSent) renderError(res, error);
  else if (!res.writableEnded) res.end();
}
