import { HEADER, QUERY } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest } from "../domain/errors.js";
import type { StreamState } from "../domain/model.js";
import { cacheControl } from "./cache-policy.js";
import { sendCatchUp } from "./catch-up.js";
import type { HttpContext } from "./context.js";
import { LongPollSession } from "./long-poll-session.js";
import { parseLive, parseOffsetParam } from "./parse.js";
import { readHeaders, responseBody } from "./read-encoding.js";
import { send } from "./respond.js";
import { SseSession } from "./sse-session.js";

const EMPTY = new Uint8Array(0);

/**
 * A GET routes by read mode: SSE and long-poll are live sessions (their own
 * files), `offset=now` answers where the tail is, anything else is a
 * catch-up. `accessExpiresAt` is when the request's token expires (ms since
 * the epoch), or null: a live response must not outlive the token that
 * authorized it.
 */
export async function handleGet(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  accessExpiresAt: number | null = null,
) {
  const { offset, given } = parseOffsetParam(query);
  const live = parseLive(query);
  if (live !== "none" && !given) throw badRequest(`live=${live} needs an offset`, "INVALID_OFFSET");

  const { stream, position } = await ctx.engine.openRead(path, offset);
  const cursor = query.get(QUERY.cursor);

  if (live === "sse") {
    ctx.live.admit(path);
    new SseSession(ctx, req, res, stream, position, cursor, accessExpiresAt).start();
    return;
  }
  if (live === "long-poll") return new LongPollSession(ctx, req, res, stream, position, cursor, accessExpiresAt).run();
  if (offset.kind === "now") return sendNow(res, stream);
  return sendCatchUp(ctx, req, res, stream, position);
}

/** `offset=now` without live: nothing to read, just where the tail is. */
function sendNow(res: ServerResponse, stream: StreamState) {
  const headers = readHeaders(stream, { next: stream.tail, upToDate: true }, null);
  headers[HEADER.cacheControl] = cacheControl("tail-offset");
  send(res, 200, headers, responseBody(stream, EMPTY));
}
