import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { log } from "../logging/logger.js";
import { httpRequestDuration, httpRequests, type RouteKind } from "../metrics/http-metrics.js";
import { metricsEnabled } from "../metrics/registry.js";

export const REQUEST_ID_HEADER = "x-request-id";

/** A client's request id is kept when it is a plain token of reasonable size; anything else is replaced. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === "string" && ACCEPTABLE_REQUEST_ID.test(given) ? given : randomUUID();
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]);

/** A request target's path and query (with its "?"), without parsing it as a URL. */
function splitTarget(rawUrl: string | undefined): { path: string; query: string } {
  const url = rawUrl ?? "/";
  const queryAt = url.indexOf("?");
  return queryAt === -1 ? { path: url, query: "" } : { path: url.slice(0, queryAt), query: url.slice(queryAt) };
}

/** The request's kind, from method, path and query alone (no stream path in it: a bounded label). */
export function routeKind(basePath: string, method: string | undefined, rawUrl: string | undefined): RouteKind {
  if (method === "OPTIONS") return "preflight";
  const { path, query } = splitTarget(rawUrl);
  const prefix = `${basePath}/`;
  if (!path.startsWith(prefix) || path.length === prefix.length) return "other";
  const rest = path.slice(prefix.length);
  if (rest === "__ds/subscriptions" || rest.startsWith("__ds/subscriptions/")) return "subscription";
  if (rest === "__ds" || rest.startsWith("__ds/")) return "control";
  switch (method) {
    case "GET":
      if (/[?&]live=sse(&|$)/.test(query)) return "sse";
      if (/[?&]live=long-poll(&|$)/.test(query)) return "long-poll";
      return "catch-up";
    case "HEAD":
      return "head";
    case "POST":
      return "append";
    case "PUT":
      return "create";
    case "DELETE":
      return "delete";
    default:
      return "other";
  }
}

/**
 * Gives the request an id (the client's X-Request-Id, or a new one), echoes
 * it on the response, and when the response is over records it: one access
 * log line (method, path without the query, status, bytes, duration, client
 * address, request id) and the request metrics. Headers, query strings and
 * bodies are never logged: they may hold tokens.
 */
export function observeRequest(basePath: string, req: IncomingMessage, res: ServerResponse): void {
  const requestId = requestIdOf(req);
  res.setHeader(REQUEST_ID_HEADER, requestId);
  const logger = log();
  const logging = logger.isLevelEnabled("info");
  const measuring = metricsEnabled();
  if (!logging && !measuring) return;
  const startedAt = performance.now();
  const socket = req.socket;
  const bytesBefore = socket.bytesWritten;
  // 'close' comes once per response: a plain listener, without once()'s wrapper objects per request.
  res.on("close", () => {
    const seconds = (performance.now() - startedAt) / 1000;
    const route = routeKind(basePath, req.method, req.url);
    const answered = res.headersSent;
    if (measuring) {
      const method = req.method !== undefined && METHODS.has(req.method) ? req.method : "other";
      httpRequests.at(method, route, answered ? `${Math.floor(res.statusCode / 100)}xx` : "aborted").inc();
      httpRequestDuration.at(route).observe(seconds);
    }
    if (logging) {
      const { path } = splitTarget(req.url);
      const status = answered ? res.statusCode : null;
      logger.info(
        {
          event: "request",
          request_id: requestId,
          method: req.method,
          path,
          route,
          status,
          bytes: socket.bytesWritten - bytesBefore,
          duration_ms: Math.round(seconds * 1e6) / 1000,
          client: socket.remoteAddress ?? null,
          ...(answered && res.writableFinished ? {} : { aborted: true }),
        },
        `${req.method} ${path} ${status ?? "aborted"}`,
      );
    }
  });
}
