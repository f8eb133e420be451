import type { IncomingMessage, ServerResponse } from "node:http";
import { ProtocolError } from "../domain/errors.js";
import type { ExtraRoute } from "../http/context.js";
import { send, sendError } from "../http/respond.js";
import type { Store } from "../storage/store.js";

export interface HealthOptions {
  store: Store;
  /** True once shutdown has begun: the server is alive but must get no new traffic. */
  closing(): boolean;
  /** How long the store may take to prove it is reachable and writable (ms). */
  readyTimeoutMs: number;
}

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" } as const;

/**
 * `/healthz`: 200 while the process serves requests at all (liveness).
 * `/readyz`: 200 only when the store answers a write check within the
 * timeout and the server is not shutting down; otherwise 503 with the reason
 * in Rill's error format (readiness: a load balancer stops sending traffic,
 * and starts again when the store is back, without a restart).
 */
export function healthRoute(options: HealthOptions): ExtraRoute {
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname !== "/healthz" && url.pathname !== "/readyz") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new ProtocolError("METHOD_NOT_ALLOWED", `${url.pathname} answers GET and HEAD only`, { allowedMethods: "GET, HEAD" });
    }
    if (url.pathname === "/healthz") {
      send(res, 200, JSON_HEADERS, req.method === "HEAD" ? undefined : JSON.stringify({ status: "ok" }));
      return true;
    }
    const reason = await notReadyReason(options);
    if (reason !== null) {
      sendError(res, new ProtocolError("NOT_READY", reason, { retryAfterSeconds: 1 }, { store: options.store.kind }));
      return true;
    }
    send(res, 200, JSON_HEADERS, req.method === "HEAD" ? undefined : JSON.stringify({ status: "ready", store: options.store.kind }));
    return true;
  };
}

async function notReadyReason({ store, closing, readyTimeoutMs }: HealthOptions): Promise<string | null> {
  if (closing()) return "the server is shutting down";
  if (!store.checkReady) return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the ${store.kind} store did not answer within ${readyTimeoutMs} ms`), readyTimeoutMs);
  });
  try {
    const check = store.checkReady(readyTimeoutMs).then(
      () => null,
      (error: unknown) => `the ${store.kind} store is not usable: ${error instanceof Error ? error.message : String(error)}`,
    );
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
