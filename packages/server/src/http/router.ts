import { CONTROL_PREFIX, HEADER } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ProtocolError } from "../domain/errors.js";
import { authorize } from "./authorize.js";
import { recordAppendRefused } from "../metrics/append-metrics.js";
import type { HttpContext } from "./context.js";
import { applyCors } from "./cors.js";
import { header } from "./parse.js";
import { handleHead } from "./head-handler.js";
import { handleGet } from "./read-handlers.js";
import { requestOrigin } from "./request-origin.js";
import { PREFLIGHT_HEADERS, routeNotFound, send, sendError } from "./respond.js";
import { handleDelete, handlePost, handlePut } from "./write-handlers.js";

/**
 * Maps a request path to a stream key: the part after the base path, kept
 * exactly as sent (percent-encoding included) so that two spellings of one
 * name can never alias. Returns null outside the base path.
 */
export function streamKey(basePath: string, pathname: string): string | null {
  const prefix = basePath.endsWith("/") ? basePath : `${basePath}/`;
  if (!pathname.startsWith(prefix)) return null;
  const key = pathname.slice(prefix.length);
  if (key === "" || key.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) return null;
  return key;
}

/** A request target made only of these characters, with no dot segment, is its own WHATWG pathname. */
const PLAIN_PATH = /^\/[A-Za-z0-9_~\-/.]*$/;
const DOT_SEGMENT = /\/\.\.?(\/|$)/;
/** Printable ASCII without "#". */
const PLAIN_QUERY = /^[\x21\x22\x24-\x7e]*$/;

/**
 * The pathname of a request target that needs no parsing (every append's is
 * one), or null: escapes, a query, dot segments and a leading "//" (which a
 * URL parser reads as a host) go through the URL parser instead.
 */
export function plainPathname(raw: string): string | null {
  return PLAIN_PATH.test(raw) && raw[1] !== "/" && !DOT_SEGMENT.test(raw) ? raw : null;
}

/**
 * The query of a target whose path is plain, parsed by URLSearchParams alone
 * (every read's), exactly as a URL's searchParams would parse it; null when a
 * URL must decide (a path that is not plain, a "#", which a URL cuts off, or
 * anything outside printable ASCII, where Node's URLSearchParams and URL
 * decode mixed raw and escaped bytes differently).
 */
export function plainQuery(raw: string): URLSearchParams | null {
  const { queryAt, plain } = splitPlain(raw);
  return plain === null ? null : queryOf(raw, queryAt);
}

/** Where the query starts (-1: none), and the pathname when the path is plain. */
function splitPlain(raw: string): { queryAt: number; plain: string | null } {
  const queryAt = raw.indexOf("?");
  return { queryAt, plain: plainPathname(queryAt === -1 ? raw : raw.slice(0, queryAt)) };
}

/** The query of a plain path, or null when it is not plain printable ASCII. */
function queryOf(raw: string, queryAt: number): URLSearchParams | null {
  if (!PLAIN_QUERY.test(raw)) return null;
  // With its "?": the constructor drops exactly one leading "?", so a query that itself starts with one keeps it.
  return new URLSearchParams(queryAt === -1 ? "" : raw.slice(queryAt));
}

/** The request's pathname and query, building a URL only when the target needs one or a handler asks for it. */
function targetOf(req: IncomingMessage): { pathname: string; query: () => URLSearchParams; url: () => URL } {
  const raw = req.url ?? "/";
  let parsed: URL | null = null;
  const url = () => (parsed ??= new URL(raw, requestOrigin(req)));
  const { queryAt, plain } = splitPlain(raw);
  const query = () => (plain === null ? null : queryOf(raw, queryAt)) ?? url().searchParams;
  return { pathname: plain ?? url().pathname, query, url };
}

export async function route(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let appending = false;
  try {
    const target = targetOf(req);
    const key = streamKey(ctx.options.basePath, target.pathname);
    applyCors(ctx.options.corsOrigins, req, res);
    // Preflights carry no credentials: they stay open, or browsers could never send the token.
    if (req.method === "OPTIONS") {
      send(res, 204, PREFLIGHT_HEADERS);
      return;
    }
    if (key === null) {
      const url = target.url();
      for (const handle of ctx.extraRoutes) {
        if (await handle(req, res, url)) return;
      }
      throw routeNotFound(`no stream at ${url.pathname}`);
    }
    if (key === CONTROL_PREFIX || key.startsWith(`${CONTROL_PREFIX}/`)) {
      // The control namespace is routed before streams, so it can never collide with one.
      const subpath = key.slice(CONTROL_PREFIX.length + 1);
      const url = target.url();
      for (const handle of ctx.controlRoutes) {
        if (await handle(req, res, subpath, url)) return;
      }
      throw routeNotFound(`no control endpoint at ${url.pathname}`);
    }
    // Without access control there is nothing to decide: no promise hop on every request.
    switch (req.method) {
      case "GET": {
        const principal = ctx.access === null ? null : await authorize(ctx, req, { operation: "read", path: key });
        return await handleGet(ctx, req, res, key, target.query(), principal?.expiresAt ?? null);
      }
      case "HEAD":
        if (ctx.access !== null) await authorize(ctx, req, { operation: "read", path: key });
        return await handleHead(ctx, res, key);
      case "PUT": {
        // A fork also reads its source; an unusable source header is the handler's 400 to give.
        const from = header(req.headers, HEADER.streamForkedFrom);
        const source = from === null ? null : ctx.resolveStreamRef(from.trim());
        const needs = source === null ? [] : [{ operation: "read", path: source } as const];
        await authorize(ctx, req, { operation: "write", path: key }, ...needs);
        return await handlePut(ctx, req, res, key, target.url());
      }
      case "POST":
        appending = true;
        if (ctx.access !== null) await authorize(ctx, req, { operation: "write", path: key });
        return await handlePost(ctx, req, res, key);
      case "DELETE":
        await authorize(ctx, req, { operation: "delete", path: key });
        return await handleDelete(ctx, res, key);
      default:
        throw new ProtocolError("METHOD_NOT_ALLOWED", `method ${req.method} is not supported on streams`, {
          allowedMethods: "GET, HEAD, POST, PUT, DELETE, OPTIONS",
        });
    }
  } catch (error) {
    if (appending) recordAppendRefused(error);
    if (!req.complete) req.resume();
    sendError(res, error);
  }
}
