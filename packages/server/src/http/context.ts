import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessControl } from "../auth/access.js";
import type { Engine } from "../engine/engine.js";
import type { CorsOrigins } from "./cors.js";
import type { CompressedChunkCache } from "./compression.js";
import type { LiveSessions } from "./live-sessions.js";

export interface HttpOptions {
  /** Path prefix under which streams live, e.g. "/v1/stream". */
  basePath: string;
  maxBodyBytes: number;
  /** Largest catch-up response (`--max-read`); a longer range stops at a message boundary within it. */
  maxReadBytes: number;
  /** When above 0, catch-up responses stop at about this many bytes (`--read-chunk`, for CDNs). */
  readChunkBytes: number;
  longPollTimeoutMs: number;
  /** SSE connections are ended after about this long so clients reconnect (proxies and caches prefer it). */
  sseRecycleMs: number;
  /** Idle SSE connections get a comment this often so proxies do not time them out. */
  sseKeepAliveMs: number;
  /** Origins browsers may call from (Access-Control-Allow-Origin). */
  corsOrigins: CorsOrigins;
  /** Output an SSE reader may have waiting on its connection before it is paused and later caught up from storage. */
  maxPendingOutputBytes: number;
  /** Streams this server may hold; 0: no limit. */
  maxStreams: number;
  /** Compress catch-up of text and JSON streams when the client accepts it. */
  compression: boolean;
}

/**
 * A handler for part of the reserved control namespace (`<base>/__ds/...`).
 * `subpath` is the part after `__ds/`. Returns false when the path is not its own.
 */
export type ControlRoute = (req: IncomingMessage, res: ServerResponse, subpath: string, url: URL) => Promise<boolean>;

/**
 * A handler for a request outside the base path (a console, a health check).
 * Returns false when the path is not its own; the server then answers 404.
 */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpContext {
  engine: Engine;
  options: HttpOptions;
  /** Who may do what (docs/security.md), or null when access control is off. */
  access: AccessControl | null;
  /** The live readers (SSE, waiting long-polls): admission, the shared ticker, shutdown. */
  live: LiveSessions;
  /** Catch-up chunks already compressed, shared by every reader of the same range. */
  compressedChunks: CompressedChunkCache;
  /** Control-namespace handlers, tried in order before giving up with 404. */
  controlRoutes: ControlRoute[];
  /** Handlers for paths outside the base path, tried in order before giving up with 404. */
  extraRoutes: ExtraRoute[];
  /** Maps a Stream-Forked-From value (path or URL) to a stream key. */
  resolveStreamRef(value: string): string | null;
}
