import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createSecureServer, createServer as createH2cServer, type Http2SecureServer, type Http2Session } from "node:http2";
import type { Server, Socket } from "node:net";
import { answerClientError } from "./http/client-errors.js";
import { ConnectionGuard } from "./http/connection-guard.js";
import type { ServerLimits } from "./http/limits.js";

/** PEM certificate chain and private key. */
export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface ListenerOptions {
  /** HTTPS: HTTP/2 negotiated by ALPN, HTTP/1.1 as the fallback on the same port. */
  tls?: TlsMaterial;
  /** Cleartext HTTP/2 with prior knowledge (behind a TLS-terminating proxy); ignored with `tls`. */
  h2c?: boolean;
  /** Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Connection caps, head size and timeouts (docs/security.md), the same whatever the protocol. */
  limits: ServerLimits;
  /** Whether raw error answers may carry `Access-Control-Allow-Origin: *` (CORS open to any origin). */
  anyOrigin: boolean;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The listening socket and the connections behind it, whichever protocol
 * they speak. Request handling never sees the difference: Node's HTTP/2
 * compatibility objects offer the subset of IncomingMessage/ServerResponse
 * the handlers use (headers, a streamed body, writeHead/write/end,
 * writableLength and "drain", "close").
 */
export interface Listener {
  server: Server;
  scheme: "http" | "https";
  /** What the port speaks, for the start-up banner. */
  protocols: string;
  /** Replaces certificate and key for new TLS handshakes; open connections keep theirs. */
  reloadTls(tls: TlsMaterial): void;
  /**
   * Stops accepting connections and sends HTTP/2 clients GOAWAY: streams
   * already open (an append whose body is still arriving) may finish, new
   * ones go elsewhere. Idle HTTP/1.1 keep-alive connections are closed.
   */
  stopAccepting(): Promise<void>;
  /** Resolves once every HTTP/2 connection has finished its open streams, or after `ms`. */
  settled(ms: number): Promise<void>;
  /** Ends whatever is still connected. */
  destroyAll(): void;
}

export function createListener(options: ListenerOptions, handler: RequestHandler): Listener {
  if (!options.tls && !options.h2c) return http1Listener(options, handler);
  return http2Listener(options, handler);
}

/** node:http's timeouts for HTTP/1.1 connections (set as properties, so the HTTP/1.1 fallback of the TLS server gets them too). */
function applyHttp1Limits(server: HttpServer, { limits, anyOrigin }: ListenerOptions): void {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  // No bound on the whole request: a streamed body may take as long as it keeps flowing (the body watchdog cuts idle ones).
  server.requestTimeout = 0;
  server.on("clientError", (error: Error & { code?: string }, socket) => answerClientError(error, socket, { ...limits, anyOrigin }));
}

function guardFor({ limits, anyOrigin }: ListenerOptions, plainHttp: boolean): ConnectionGuard {
  return new ConnectionGuard({ maxConnections: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerIp, anyOrigin, plainHttp });
}

function http1Listener(options: ListenerOptions, handler: RequestHandler): Listener {
  const { limits } = options;
  const guard = guardFor(options, true);
  const server = createHttpServer(
    {
      // Node checks head timeouts on this interval (30 s by default), which would stretch a short headersTimeout.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 4)),
      maxHeaderSize: limits.maxHeaderSize,
    },
    (req, res) => {
      if (!guard.isRefused(req.socket)) handler(req, res);
    },
  );
  applyHttp1Limits(server, options);
  guard.attach(server);
  const stopped = closed(server);
  return {
    server,
    scheme: "http",
    protocols: "HTTP/1.1",
    reloadTls() {
      throw new Error("this server does not use TLS");
    },
    stopAccepting() {
      server.close();
      server.closeIdleConnections();
      return stopped;
    },
    settled: () => Promise.resolve(),
    destroyAll: () => server.closeAllConnections(),
  };
}

function http2Listener(options: ListenerOptions, handler: RequestHandler): Listener {
  const { limits } = options;
  const settings = { maxConcurrentStreams: options.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderSize };
  // The compatibility request/response pair is what the handlers are written against (see Listener).
  const compatHandler = handler as unknown as Parameters<typeof createH2cServer>[1];
  const server = options.tls
    ? createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, settings }, compatHandler)
    : createH2cServer({ settings }, compatHandler);

  // Connections past a cap are closed before the handshake: no HTTP/1.1 answer can be written there.
  guardFor(options, false).attach(server as unknown as HttpServer);
  if (options.tls) applyHttp1Limits(server as unknown as HttpServer, options);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // A broken connection is the client's problem; it must not reach the process.
    session.on("error", () => session.destroy());
  });
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("sessionError", () => undefined);
  server.on("tlsClientError", () => undefined);
  const stopped = closed(server);

  return {
    server,
    scheme: options.tls ? "https" : "http",
    protocols: options.tls ? "HTTP/2 and HTTP/1.1 over TLS" : "cleartext HTTP/2 (prior knowledge)",
    reloadTls(tls) {
      if (!options.tls) throw new Error("this server does not use TLS");
      (server as Http2SecureServer).setSecureContext({ cert: tls.cert, key: tls.key });
    },
    stopAccepting() {
      server.close();
      for (const session of sessions) session.close(); // GOAWAY; open streams continue
      return stopped;
    },
    async settled(ms) {
      const deadline = Date.now() + ms;
      while (sessions.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

function closed(server: Server): Promise<void> {
  return new Promise((resolve) => server.once("close", () => resolve()));
}
