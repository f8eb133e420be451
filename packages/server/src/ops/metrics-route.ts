import type { IncomingMessage, ServerResponse } from "node:http";
import { ProtocolError } from "../domain/errors.js";
import type { ExtraRoute } from "../http/context.js";
import { send } from "../http/respond.js";
import { registry } from "../metrics/registry.js";

/**
 * Decides whether a request may proceed; when it may not, it has answered
 * (401/403) and returns false. Access control plugs in here: `/metrics` is
 * meant for the `admin` scope.
 */
export type RequestGuard = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface MetricsRouteOptions {
  /** Checked before anything is exposed (default: none, open like every other route). */
  guard?: RequestGuard;
}

/** `GET /metrics`: the process's metrics in the Prometheus text format (prom-client's exposition). */
export function metricsRoute(options: MetricsRouteOptions = {}): ExtraRoute {
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname !== "/metrics") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new ProtocolError("METHOD_NOT_ALLOWED", "/metrics answers GET and HEAD only", { allowedMethods: "GET, HEAD" });
    }
    if (options.guard && !(await options.guard(req, res))) return true;
    const body = await registry.metrics();
    send(res, 200, { "content-type": registry.contentType, "cache-control": "no-store" }, req.method === "HEAD" ? undefined : body);
    return true;
  };
}
