import { formatOffset, type ListedStream } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, ProtocolError } from "../domain/errors.js";
import { isExpired, storedBytes, type StreamState } from "../domain/model.js";
import { allows, type Grants } from "../auth/scopes.js";
import { authorize, insufficientScope, principalOf } from "./authorize.js";
import type { ControlRoute, HttpContext } from "./context.js";
import { markPrivate } from "./cache-policy.js";
import { send } from "./respond.js";

const MAX_PAGE = 1000;

/**
 * `GET <base>/__ds/streams?prefix=&after=&limit=` — a Rill extension that lists
 * streams with their metadata, a page at a time. Deleted (even if forks keep
 * them) and expired streams are not listed. `next` is the `after` value of the
 * following page, or null on the last page. With access control on, a caller
 * sees only the streams it may read, unless it holds `admin`.
 */
export function listRoute(ctx: HttpContext): ControlRoute {
  return async (req: IncomingMessage, res: ServerResponse, subpath: string, url: URL) => {
    if (subpath !== "streams") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new ProtocolError("METHOD_NOT_ALLOWED", "the stream list is read-only", { allowedMethods: "GET, HEAD" });
    }
    const prefix = url.searchParams.get("prefix") ?? "";
    const after = url.searchParams.get("after");
    const limitText = url.searchParams.get("limit") ?? "100";
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_PAGE) {
      throw badRequest(`limit must be a whole number from 1 to ${MAX_PAGE}`);
    }
    const limit = Number(limitText);
    const readable = await readableFilter(ctx, req);
    const now = Date.now();
    const page = await ctx.engine.store.list(prefix, after, limit + 1);
    const visible = page.slice(0, limit);
    const body = {
      streams: visible.filter((s) => !s.softDeleted && !isExpired(s, now) && readable(s.path)).map(describe),
      next: page.length > limit ? visible[visible.length - 1]!.path : null,
    };
    send(res, 200, { "content-type": "application/json", "cache-control": "no-store" }, JSON.stringify(body));
    return true;
  };
}

/**
 * Which listed paths this caller may see: all with access control off or
 * with `admin`, else those its read scopes (and the public ones) cover. A
 * caller that can read nothing at all is told so (401/403) instead of being
 * shown an empty server.
 */
async function readableFilter(ctx: HttpContext, req: IncomingMessage): Promise<(path: string) => boolean> {
  if (ctx.access === null) return () => true;
  const principal = await principalOf(ctx, req);
  const grants: Grants = ctx.access.grantsOf(principal);
  if (grants.admin) {
    markPrivate(req);
    return () => true;
  }
  if (grants.read.length === 0) {
    if (principal === null) await authorize(ctx, req, { operation: "admin" }); // the 401
    throw insufficientScope("admin", "this token may read no stream, so there is nothing to list (it needs read:<pattern> or admin)");
  }
  // What a caller may see depends on its token, so the answer is private.
  if (principal !== null) markPrivate(req);
  return (path) => allows(grants, "read", path);
}

function describe(stream: StreamState): ListedStream {
  return {
    path: stream.path,
    contentType: stream.contentType,
    nextOffset: formatOffset(stream.tail),
    bytes: stream.tail,
    closed: stream.closed,
    ttlSeconds: stream.ttlSeconds,
    expiresAt: stream.expiresAt === null ? null : new Date(stream.expiresAt).toISOString(),
    createdAt: new Date(stream.createdAt).toISOString(),
    forkedFrom: stream.forkedFrom,
    earliestOffset: formatOffset(stream.earliest),
    appendedBytes: stream.tail - stream.forkOffset,
    storedBytes: storedBytes(stream),
  };
}
