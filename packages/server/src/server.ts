import type { Server } from "node:net";
import { AccessControl, type AccessOptions } from "./auth/access.js";
import { Engine } from "./engine/engine.js";
import { authorize, authorizeAny } from "./http/authorize.js";
import { MAINTENANCE_DEFAULTS } from "./engine/maintenance.js";
import { parseRetentionRule, type RetentionRule } from "./domain/retention-rules.js";
import { CompressedChunkCache } from "./http/compression.js";
import type { ExtraRoute, HttpContext } from "./http/context.js";
import { LiveSessions } from "./http/live-sessions.js";
import { parseCorsOrigins } from "./http/cors.js";
import { BodyWatchdog } from "./http/body-watchdog.js";
import { resolveLimits, type ServerLimits } from "./http/limits.js";
import { listRoute } from "./http/list-route.js";
import { observeRequest } from "./http/observe.js";
import { createListener, type TlsMaterial } from "./listener.js";
import { route, streamKey } from "./http/router.js";
import { setLogger, type Logger } from "./logging/logger.js";
import { setMetricsEnabled } from "./metrics/registry.js";
import { watchServer } from "./metrics/server-sources.js";
import type { RequestGuard } from "./ops/metrics-route.js";
import { operations } from "./ops/operations.js";
import { originOf, type OpsServer } from "./ops/ops-server.js";
import { MemoryStore } from "./storage/memory-store.js";
import type { PostgresStoreOptions } from "./storage/postgres-store.js";
import type { Store } from "./storage/store.js";
import { SubscriptionManager, type SubscriptionManagerOptions } from "./subscriptions/manager.js";
import { MemorySubscriptionStore } from "./subscriptions/memory-store.js";
import { subscriptionRoute } from "./subscriptions/routes.js";
import type { SubscriptionStore } from "./subscriptions/store.js";

export interface ServerOptions {
  port?: number;
  host?: string;
  /** Streams live under this path (default "/v1/stream"). */
  basePath?: string;
  /** Use the in-memory store (nothing survives a restart); same as `store: "memory"`. */
  memory?: boolean;
  /** Directory of the durable store (default "./data"). */
  dataDir?: string;
  /**
   * Which store: "sqlite" (the default, in `dataDir`), "memory", "postgres"
   * (shared by any number of servers; needs `databaseUrl`), or a Store of
   * your own (overrides memory/dataDir).
   */
  store?: Store | "memory" | "sqlite" | "postgres";
  /** PostgreSQL connection URL for `store: "postgres"`, e.g. postgres://rill@db:5432/rill */
  databaseUrl?: string;
  /** PostgreSQL store settings (schema, default "rill"; pool size; …). */
  postgres?: Omit<PostgresStoreOptions, "connectionString">;
  longPollTimeoutMs?: number;
  maxBodyBytes?: number;
  /**
   * Largest catch-up response (default 1 GiB): a catch-up read is answered in
   * one response streamed from storage up to this size; past it the response
   * stops at a message boundary without Stream-Up-To-Date (docs/reads.md).
   */
  maxReadBytes?: number;
  /**
   * Cut every catch-up response at about this many bytes (e.g. 4 MiB), as
   * CDN-friendly chunks; 0 (the default) sends the whole range. Clients must
   * then follow Stream-Next-Offset, which the official client does not do
   * with `live: false`.
   */
  readChunkBytes?: number;
  /** Bytes one SSE catch-up event or long-poll response carries at most (default 4 MiB). */
  liveReadBytes?: number;
  sseRecycleMs?: number;
  sseKeepAliveMs?: number;
  sweepIntervalMs?: number;
  /** HTTPS with HTTP/2 (ALPN) and HTTP/1.1 on the same port. */
  tls?: TlsMaterial;
  /** Cleartext HTTP/2 with prior knowledge instead of HTTP/1.1 (for a TLS-terminating proxy in front). */
  h2c?: boolean;
  /** Concurrent streams per HTTP/2 connection (default 256). */
  maxConcurrentStreams?: number;
  /** Compress catch-up of text and JSON streams when the client accepts br or gzip (default true). */
  compression?: boolean;
  /**
   * Server-wide retention defaults by path pattern, e.g. `["logs/**=7d,10GiB"]`
   * (`rill serve --retention`); the most specific matching pattern applies to
   * streams created without retention headers of their own.
   */
  retention?: (string | RetentionRule)[];
  /** Batches younger than this are never compacted (ms, default 30 s). */
  compactionLagMs?: number;
  /** How often the background retention/compaction pass runs (ms, default 5 s); 0 turns it off. */
  maintenanceIntervalMs?: number;
  /**
   * Handlers for requests outside the base path (e.g. a web console), tried in
   * order before the server answers 404. Each returns true when it answered.
   */
  extraRoutes?: ExtraRoute[];
  /**
   * Public origin of the server (e.g. https://streams.example.com) for the URLs
   * it hands out: webhook callback URLs and the JWKS URL. Default: the origin
   * the client used (its Host header, over http).
   */
  publicUrl?: string;
  /**
   * Subscriptions (webhooks and pull-wake). Their state is kept in
   * `<dataDir>/subscriptions.db`, in PostgreSQL beside the streams with
   * `store: "postgres"` (shared by every server on the database), or in
   * memory with `memory` (or a custom `store` and no `dataDir`), unless a
   * store is given here.
   */
  subscriptions?: Omit<SubscriptionManagerOptions, "engine" | "store"> & { store?: SubscriptionStore };
  /**
   * Access control (docs/security.md): bearer JWTs (HS256 with `jwtSecret`,
   * RS256/ES256/EdDSA with a `jwks` URL or file) and static API tokens
   * (`tokens` file). Off when none of them is given.
   */
  access?: AccessOptions;
  /** Origins browsers may call from: "*" (the default) or a comma-separated list. */
  corsOrigin?: string;
  /** What clients may hold: connections, readers, streams, timeouts, queued writes (DEFAULT_LIMITS; docs/security.md). */
  limits?: Partial<ServerLimits>;
  /**
   * Record and serve Prometheus metrics (default true). Metrics are
   * process-wide: `false` stops recording for the whole process.
   */
  metrics?: boolean;
  /** Serve /metrics (and the health endpoints) on this port instead of the main one: a private port. */
  metricsPort?: number;
  /** Checked before /metrics answers (access control: the `admin` scope). */
  metricsGuard?: RequestGuard;
  /** How long /readyz waits for the store (ms, default 2000). */
  readyTimeoutMs?: number;
  /** The process's logger (pino); installed for every module. Default: warnings and errors to stderr. */
  logger?: Logger;
  /** Where a web console is mounted, linked from the page at `/` (e.g. "/console/"). */
  consolePath?: string;
}

export const DEFAULTS = {
  port: 4437,
  host: "127.0.0.1",
  basePath: "/v1/stream",
  dataDir: "./data",
  longPollTimeoutMs: 20_000,
  maxBodyBytes: 64 * 1024 * 1024,
  maxReadBytes: 1024 * 1024 * 1024,
  readChunkBytes: 0,
  liveReadBytes: 4 * 1024 * 1024,
  sseRecycleMs: 60_000,
  sseKeepAliveMs: 15_000,
  sweepIntervalMs: 1_000,
  readyTimeoutMs: 2_000,
  compactionLagMs: MAINTENANCE_DEFAULTS.compactionLagMs,
  maintenanceIntervalMs: MAINTENANCE_DEFAULTS.intervalMs,
  maxConcurrentStreams: 256,
  /** How long shutdown waits for HTTP/2 streams that were open at GOAWAY (an append still sending its body). */
  shutdownGraceMs: 5_000,
} as const;

export interface RunningServer {
  /** Origin the server listens on, e.g. http://127.0.0.1:4437 (https://… with TLS) */
  url: string;
  /** URL of the stream namespace, e.g. http://127.0.0.1:4437/v1/stream */
  streamsUrl: string;
  /** The listening server: node:http, or node:http2 with TLS or h2c. */
  http: Server;
  /** What the port speaks, e.g. "HTTP/2 and HTTP/1.1 over TLS". */
  protocols: string;
  /** New certificate and key for new connections (e.g. on SIGHUP); open connections are kept. */
  reloadTls(tls: TlsMaterial): void;
  engine: Engine;
  store: Store;
  subscriptions: SubscriptionManager;
  /** The HTTP layer's shared state; extra routes use it to call `authorize(ctx, req, need)`. */
  ctx: HttpContext;
  /** Origin of the private metrics port, when `metricsPort` was given. */
  metricsUrl: string | null;
  /** Stops accepting, finishes in-flight appends, ends live readers, closes storage. */
  close(): Promise<void>;
}

function storeKind(options: ServerOptions): "memory" | "sqlite" | "postgres" | "custom" {
  if (typeof options.store === "object") return "custom";
  return options.store ?? (options.memory ? "memory" : "sqlite");
}

async function openStore(options: ServerOptions, limits: ServerLimits): Promise<Store> {
  if (typeof options.store === "object") return options.store;
  const commitQueue = { maxAppends: limits.maxQueuedAppends, maxBytes: limits.maxQueuedBytes };
  switch (storeKind(options)) {
    case "memory":
      return new MemoryStore();
    case "postgres": {
      if (!options.databaseUrl) throw new Error('store "postgres" needs a databaseUrl (postgres://…)');
      const { PostgresStore } = await import("./storage/postgres-store.js");
      return PostgresStore.open({ commitQueue, ...options.postgres, connectionString: options.databaseUrl });
    }
    default: {
      // Imported when chosen, like PostgreSQL's: better-sqlite3's native module loads only for servers that use it.
      const { SqliteStore } = await import("./storage/sqlite-store.js");
      return SqliteStore.open(options.dataDir ?? DEFAULTS.dataDir, { commitQueue });
    }
  }
}

async function openSubscriptionStore(options: ServerOptions): Promise<SubscriptionStore> {
  if (options.subscriptions?.store) return options.subscriptions.store;
  const kind = storeKind(options);
  if (kind === "postgres") {
    // Shared by every server on the database, like the streams: a webhook hears appends made through any of them.
    const { PostgresSubscriptionStore } = await import("./subscriptions/postgres-store.js");
    return PostgresSubscriptionStore.open({ connectionString: options.databaseUrl!, schema: options.postgres?.schema });
  }
  if (kind === "memory" || (kind === "custom" && options.dataDir === undefined)) {
    return new MemorySubscriptionStore();
  }
  const { SqliteSubscriptionStore } = await import("./subscriptions/sqlite-store.js");
  return SqliteSubscriptionStore.open(options.dataDir ?? DEFAULTS.dataDir);
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  // Configuration mistakes surface before anything is opened.
  const access = AccessControl.fromOptions(options.access ?? {});
  const corsOrigins = parseCorsOrigins(options.corsOrigin);
  const limits = resolveLimits(options.limits);
  if (options.logger) setLogger(options.logger);
  const metrics = options.metrics ?? true;
  setMetricsEnabled(metrics);
  const store = await openStore(options, limits);
  const basePath = (options.basePath ?? DEFAULTS.basePath).replace(/\/+$/, "");
  const engine = new Engine(store, {
    maxReadBytes: options.liveReadBytes ?? DEFAULTS.liveReadBytes,
    sweepIntervalMs: options.sweepIntervalMs ?? DEFAULTS.sweepIntervalMs,
    maintenance: {
      retention: (options.retention ?? []).map((rule) => (typeof rule === "string" ? parseRetentionRule(rule) : rule)),
      compactionLagMs: options.compactionLagMs ?? DEFAULTS.compactionLagMs,
      intervalMs: options.maintenanceIntervalMs ?? DEFAULTS.maintenanceIntervalMs,
    },
  });
  const subscriptions = await SubscriptionManager.open({
    ...options.subscriptions,
    engine,
    store: await openSubscriptionStore(options),
  });
  const sseKeepAliveMs = options.sseKeepAliveMs ?? DEFAULTS.sseKeepAliveMs;
  const sseRecycleMs = options.sseRecycleMs ?? DEFAULTS.sseRecycleMs;
  const live = new LiveSessions({
    hub: engine.hub,
    maxReadersPerStream: limits.maxReadersPerStream,
    // Often enough for keep-alives and recycling to be on time, at most once a second.
    tickMs: Math.max(50, Math.min(1_000, sseKeepAliveMs / 2, sseRecycleMs / 2)),
  });
  const ctx: HttpContext = {
    engine,
    access,
    live,
    compressedChunks: new CompressedChunkCache(),
    controlRoutes: [],
    extraRoutes: [...(options.extraRoutes ?? [])],
    options: {
      basePath,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      maxReadBytes: options.maxReadBytes ?? DEFAULTS.maxReadBytes,
      readChunkBytes: options.readChunkBytes ?? DEFAULTS.readChunkBytes,
      longPollTimeoutMs: options.longPollTimeoutMs ?? DEFAULTS.longPollTimeoutMs,
      sseRecycleMs,
      sseKeepAliveMs,
      corsOrigins,
      maxPendingOutputBytes: limits.maxPendingOutputBytes,
      maxStreams: limits.maxStreams,
      compression: options.compression ?? true,
    },
    resolveStreamRef(value: string) {
      let pathname = value;
      if (/^https?:\/\//i.test(value)) {
        try {
          pathname = new URL(value).pathname;
        } catch {
          return null;
        }
      }
      if (!pathname.startsWith("/")) return streamKey(basePath, `${basePath}/${pathname}`);
      return streamKey(basePath, pathname);
    },
  };

  ctx.controlRoutes.push(listRoute(ctx));
  ctx.controlRoutes.push(
    subscriptionRoute(subscriptions, {
      basePath,
      publicUrl: options.publicUrl ?? null,
      authorizeAny: (req, needs) => authorizeAny(ctx, req, needs),
    }),
  );

  // Outside the base path, so no stream can be shadowed: health, metrics, then the caller's routes, then `/`.
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
  // With access control on, the metrics are for the `admin` scope (docs/security.md), unless the caller guards them itself.
  const adminOnly: RequestGuard = async (req) => {
    await authorize(ctx, req, { operation: "admin" });
    return true;
  };
  const ops = operations({
    store,
    basePath,
    consolePath: options.consolePath ?? null,
    metrics,
    metricsPort: options.metricsPort,
    readyTimeoutMs,
    guard: options.metricsGuard ?? (access === null ? undefined : adminOnly),
  });
  ctx.extraRoutes.unshift(...ops.first);
  ctx.extraRoutes.push(...ops.last);

  const bodies = new BodyWatchdog(limits.bodyTimeoutMs);
  const listener = createListener(
    {
      tls: options.tls,
      h2c: options.h2c,
      maxConcurrentStreams: options.maxConcurrentStreams ?? DEFAULTS.maxConcurrentStreams,
      limits,
      anyOrigin: corsOrigins === "*",
    },
    (req, res) => {
      observeRequest(basePath, req, res);
      bodies.track(req, res);
      void route(ctx, req, res);
    },
  );
  const http = listener.server;
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? DEFAULTS.port, options.host ?? DEFAULTS.host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  // The listener knows its scheme (https with TLS).
  const url = originOf(http).replace(/^http:/, `${listener.scheme}:`);
  let opsPort: OpsServer | null;
  try {
    opsPort = await ops.listen(options.host ?? DEFAULTS.host);
  } catch (error) {
    // Nothing may stay open when the server does not start.
    await new Promise((resolve) => http.close(resolve));
    await subscriptions.close();
    await engine.close();
    throw error;
  }
  const unwatch = watchServer({ http, store, sessions: live, subscriptions, usageTimeoutMs: readyTimeoutMs });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ops.shuttingDown();
      const stopped = listener.stopAccepting();
      bodies.close();
      live.close();
      // HTTP/2 requests already under way when GOAWAY went out may finish (an append still sending its body).
      await listener.settled(DEFAULTS.shutdownGraceMs);
      // Subscriptions stop after in-flight appends (whose observers they are) and before the engine (wake events are appends).
      await engine.drain();
      await subscriptions.close();
      await engine.close();
      // Connections still open after in-flight work finished are idle or hung.
      listener.destroyAll();
      await stopped;
      await opsPort?.close();
      unwatch();
    })());

  return {
    url,
    streamsUrl: `${url}${basePath}`,
    http,
    protocols: listener.protocols,
    reloadTls: (tls) => listener.reloadTls(tls),
    engine,
    store,
    subscriptions,
    ctx,
    metricsUrl: opsPort?.url ?? null,
    close,
  };
}
