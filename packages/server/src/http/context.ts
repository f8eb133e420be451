import type { Engine } from "../engine/engine.js";

export interface HttpOptions {
  /** Path prefix under which streams live, e.g. "/v1/stream". */
  basePath: string;
  maxBodyBytes: number;
  longPollTimeoutMs: number;
  /** SSE connections are ended after about this long so clients reconnect (proxies and caches prefer it). */
  sseRecycleMs: number;
  /** Idle SSE connections get a comment this often so proxies do not time them out. */
  sseKeepAliveMs: number;
}

/** A live reader the server can end on shutdown. */
export interface LiveSession {
  end(): void;
}

export interface HttpContext {
  engine: Engine;
  options: HttpOptions;
  sessions: Set<LiveSession>;
  /** Maps a Stream-Forked-From value (path or URL) to a stream key. */
  resolveStreamRef(value: string): string | null;
}
