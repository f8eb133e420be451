import type { IncomingMessage, ServerResponse } from "node:http";
import type { Need } from "../auth/access.js";
import { ProtocolError } from "../domain/errors.js";
import type { ControlRoute } from "../http/context.js";
import { readBody } from "../http/body.js";
import { send } from "../http/respond.js";
import { invalid, normalizeStreamPath, parseStreamList, parseSubscriptionConfig, parseSubscriptionId } from "./config.js";
import { parseWakeRequest } from "./consumer.js";
import type { SubscriptionManager } from "./manager.js";
import { requestOrigin } from "../http/request-origin.js";

/**
 * The reserved control namespace `<base>/__ds/…`:
 *
 *   GET    __ds/jwks.json
 *   PUT    __ds/subscriptions/:id            create or confirm
 *   GET    __ds/subscriptions/:id
 *   DELETE __ds/subscriptions/:id
 *   POST   __ds/subscriptions/:id/streams    {"streams": [...]}
 *   DELETE __ds/subscriptions/:id/streams/:path   (path percent-encoded)
 *   POST   __ds/subscriptions/:id/callback   webhook consumers
 *   POST   __ds/subscriptions/:id/claim      pull-wake workers
 *   POST   __ds/subscriptions/:id/ack
 *   POST   __ds/subscriptions/:id/release
 */

export interface ControlRouteOptions {
  /** Path prefix of the stream namespace, e.g. "/v1/stream". */
  basePath: string;
  /** Public origin (e.g. https://streams.example.com) for the URLs handed out; default: the request's Host. */
  publicUrl: string | null;
  /**
   * Access control: throws a 401/403 unless the request holds one of `needs`.
   * Managing subscriptions needs `admin`; claiming work needs `admin` or read
   * on the wake stream. The consumer calls (callback, ack, release) carry the
   * subscription's own signed tokens instead, and the JWKS is public.
   */
  authorizeAny?: (req: IncomingMessage, needs: Need[]) => Promise<unknown>;
}


const MAX_CONTROL_BODY = 1024 * 1024;
const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, { ...JSON_HEADERS, ...headers }, JSON.stringify(body));
}

function methodNotAllowed(method: string | undefined, allow: string): ProtocolError {
  return new ProtocolError("METHOD_NOT_ALLOWED", `${method ?? "this method"} is not allowed here`, { allowedMethods: allow });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, MAX_CONTROL_BODY);
  if (body.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(body).toString("utf8")) as unknown;
  } catch {
    throw invalid("the body is not valid JSON");
  }
}

/** The bearer token, or null when there is none; tokens are accepted in this header only. */
function bearerToken(req: IncomingMessage): string | null {
  const match = /^Bearer +([^\s]+) *$/i.exec(req.headers.authorization ?? "");
  return match ? match[1]! : null;
}

/** The control route for `__ds/jwks.json` and `__ds/subscriptions/…`; other control paths are left to other routes. */
export function subscriptionRoute(manager: SubscriptionManager, options: ControlRouteOptions): ControlRoute {
  const publicBase = options.publicUrl === null ? null : `${options.publicUrl.replace(/\/+$/, "")}${options.basePath}`;

  /** URL of the stream namespace as this client reached it, so handed-out URLs match what it used. */
  const baseUrl = (req: IncomingMessage) => publicBase ?? `${requestOrigin(req)}${options.basePath}`;

  return async (req, res, subpath) => {
    const segments = subpath.split("/");
    if (segments[0] !== "jwks.json" && segments[0] !== "subscriptions") return false;
    await serve(req, res, segments);
    return true;
  };

  /** Access control per endpoint; consumer calls are left to their own tokens. */
  async function guard(req: IncomingMessage, id: string, action: string[]): Promise<void> {
    const check = options.authorizeAny;
    if (check === undefined) return;
    const consumerCall = action.length === 1 && ["callback", "ack", "release"].includes(action[0]!);
    if (consumerCall) return;
    const needs: Need[] = [{ operation: "admin" }];
    if (action.length === 1 && action[0] === "claim") {
      let wakeStream: unknown;
      try {
        wakeStream = (await manager.get(id, baseUrl(req))).wake_stream;
      } catch {
        wakeStream = undefined; // unknown subscription: only admin may learn that
      }
      if (typeof wakeStream === "string") needs.push({ operation: "read", path: wakeStream });
    }
    await check(req, needs);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, segments: string[]): Promise<void> {
    const method = req.method;
    if (manager.closing) throw new ProtocolError("SHUTTING_DOWN", "the server is shutting down", { retryAfterSeconds: 1 });

    if (segments.length === 1 && segments[0] === "jwks.json") {
      if (method !== "GET" && method !== "HEAD") throw methodNotAllowed(method, "GET, HEAD");
      const body = JSON.stringify(manager.jwks());
      const headers = { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=300" };
      send(res, 200, headers, method === "HEAD" ? undefined : body);
      return;
    }
    if (segments[0] !== "subscriptions" || segments.length < 2) {
      throw new ProtocolError("NOT_FOUND", `no control endpoint at __ds/${segments.join("/")}`);
    }
    const id = parseSubscriptionId(segments[1]!);
    const action = segments.slice(2);
    await guard(req, id, action);

    if (action.length === 0) {
      switch (method) {
        case "PUT": {
          const config = parseSubscriptionConfig(await readJson(req));
          const { created, body } = await manager.put(id, config, baseUrl(req));
          const location = `${baseUrl(req)}/__ds/subscriptions/${encodeURIComponent(id)}`;
          sendJson(res, created ? 201 : 200, body, created ? { location } : {});
          return;
        }
        case "GET":
          sendJson(res, 200, await manager.get(id, baseUrl(req)));
          return;
        case "DELETE":
          await manager.delete(id);
          send(res, 204, {});
          return;
        default:
          throw methodNotAllowed(method, "GET, PUT, DELETE");
      }
    }

    if (action[0] === "streams") {
      if (action.length === 1) {
        if (method !== "POST") throw methodNotAllowed(method, "POST");
        const body = (await readJson(req)) as Record<string, unknown>;
        await manager.addStreams(id, parseStreamList(body?.streams));
        send(res, 204, {});
        return;
      }
      if (method !== "DELETE") throw methodNotAllowed(method, "DELETE");
      let decoded: string;
      try {
        decoded = action.slice(1).map(decodeURIComponent).join("/");
      } catch {
        throw invalid("the stream path is not valid percent-encoding");
      }
      const path = normalizeStreamPath(decoded);
      if (path === null) throw invalid(`not a stream path: ${JSON.stringify(decoded)}`);
      await manager.removeStream(id, path);
      send(res, 204, {});
      return;
    }

    if (action.length !== 1 || !["callback", "claim", "ack", "release"].includes(action[0]!)) {
      throw new ProtocolError("NOT_FOUND", `no control endpoint at __ds/${segments.join("/")}`);
    }
    if (method !== "POST") throw methodNotAllowed(method, "POST");
    const body = await readJson(req);
    switch (action[0]) {
      case "callback":
        sendJson(res, 200, await manager.callback(id, bearerToken(req), parseWakeRequest(body)));
        return;
      case "ack":
        sendJson(res, 200, await manager.ack(id, bearerToken(req), parseWakeRequest(body)));
        return;
      case "release":
        await manager.release(id, bearerToken(req), parseWakeRequest(body));
        send(res, 204, {});
        return;
      default: {
        const worker = (body as Record<string, unknown>)?.worker;
        if (typeof worker !== "string" || worker === "" || worker.length > 256) {
          throw invalid("claim needs {\"worker\": <name>} (1 to 256 characters)");
        }
        sendJson(res, 200, await manager.claim(id, worker));
      }
    }
  }
}
