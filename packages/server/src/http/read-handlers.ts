import { HEADER, nextCursor, QUERY } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest } from "../engine/errors.js";
import type { LiveEvent } from "../engine/live-hub.js";
import type { StreamState } from "../engine/model.js";
import { readBytes } from "../metrics/http-metrics.js";
import type { HttpContext } from "./context.js";
import { header, parseLive, parseOffsetParam, type RequestedOffset } from "./parse.js";
import { etagFor, readHeaders, responseBody } from "./read-encoding.js";
import { send, sendError } from "./respond.js";
import { SseSession } from "./sse-session.js";

const EMPTY = new Uint8Array(0);

export async function handleGet(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, path: string, url: URL) {
  const { offset, given } = parseOffsetParam(url.searchParams);
  const live = parseLive(url.searchParams);
  if (live !== "none" && !given) throw badRequest(`live=${live} needs an offset`, "INVALID_OFFSET");

  const stream = await ctx.engine.live(path);
  await ctx.engine.touch(stream);
  const position = resolvePosition(stream, offset);
  const cursor = url.searchParams.get(QUERY.cursor);

  if (live === "sse") {
    new SseSession(ctx, req, res, stream, position, cursor).start();
    return;
  }
  if (live === "long-poll") return longPoll(ctx, req, res, stream, position, cursor);
  if (offset.kind === "now") return sendNow(res, stream);
  return catchUp(ctx, req, res, stream, position);
}

function resolvePosition(stream: StreamState, offset: RequestedOffset): number {
  if (offset.kind === "beginning") return 0;
  if (offset.kind === "now") return stream.tail;
  if (offset.position > stream.tail) {
    throw badRequest("offset is past the end of the stream", "INVALID_OFFSET");
  }
  return offset.position;
}

/** `offset=now` without live: nothing to read, just where the tail is. Never cached. */
function sendNow(res: ServerResponse, stream: StreamState) {
  const headers = readHeaders(stream, { next: stream.tail, upToDate: true }, null);
  headers[HEADER.cacheControl] = "no-store";
  send(res, 200, headers, responseBody(stream, EMPTY));
}

async function catchUp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, stream: StreamState, position: number) {
  const read = await ctx.engine.read(stream, position);
  const etag = etagFor(stream.path, position, read, stream.closed);
  const headers = readHeaders(stream, read, null);
  headers[HEADER.etag] = etag;
  // A chunk that stops short of the tail never changes; the tail chunk must be revalidated.
  headers[HEADER.cacheControl] = read.upToDate ? "no-cache" : "public, max-age=60, stale-while-revalidate=300";
  if (header(req.headers, HEADER.ifNoneMatch) === etag) {
    send(res, 304, headers);
    return;
  }
  const body = responseBody(stream, read.data);
  send(res, 200, headers, body);
  readBytes.at("catch-up").inc(body.length);
}

/**
 * Long-poll: answer at once when there is data after `position` (or the
 * stream is closed); otherwise wait for the next committed append or the
 * timeout. The waiter subscribes before re-reading the tail, so an append
 * that lands in between cannot be missed.
 */
async function longPoll(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  stream: StreamState,
  position: number,
  clientCursor: string | null,
) {
  const cursor = () => nextCursor(clientCursor);
  if (position < stream.tail) return sendRead(ctx, res, stream, position, cursor());
  if (stream.closed) return sendTimeout(res, stream, cursor());

  await new Promise<void>((resolve) => {
    let settled = false;
    const finish = (work: () => Promise<void> | void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      ctx.sessions.delete(session);
      req.off("close", onClose);
      Promise.resolve()
        .then(work)
        .catch((error: unknown) => sendError(res, error))
        .finally(resolve);
    };
    const onEvent = (event: LiveEvent) => {
      if (event.gone) return finish(() => ctx.engine.live(stream.path).then(() => undefined)); // throws the right 404/410
      if (event.data && event.start === position) {
        // The common case: every waiter at the old tail gets the same body, built once.
        return finish(() => {
          const current = { ...stream, tail: event.end, closed: event.closed };
          const body = event.memo("long-poll-body", () => responseBody(current, event.data!));
          send(res, 200, readHeaders(current, { next: event.end, upToDate: true }, cursor()), body);
          readBytes.at("long-poll").inc(body.length);
        });
      }
      void recheck();
    };
    const unsubscribe = ctx.engine.hub.subscribe(stream.path, onEvent);
    // Looks at the stream again: answers when there is something to say, else
    // keeps waiting (an event without data, e.g. another server's resync
    // notice, may well announce nothing new for this reader).
    const recheck = async () => {
      try {
        const fresh = await ctx.engine.live(stream.path);
        if (fresh.tail > position) finish(() => sendRead(ctx, res, fresh, position, cursor()));
        else if (fresh.closed) finish(() => sendTimeout(res, fresh, cursor()));
      } catch (error) {
        finish(() => sendError(res, error));
      }
    };
    const answerNow = () =>
      finish(async () => {
        const fresh = await ctx.engine.live(stream.path);
        if (fresh.tail > position) return sendRead(ctx, res, fresh, position, cursor());
        return sendTimeout(res, fresh, cursor());
      });
    const timer = setTimeout(answerNow, ctx.options.longPollTimeoutMs);
    const onClose = () => finish(() => undefined);
    req.on("close", onClose);
    const session = { mode: "long-poll", end: answerNow } as const;
    ctx.sessions.add(session);
    // The tail may have moved between the first look and the subscription.
    void recheck();
  });
}

async function sendRead(ctx: HttpContext, res: ServerResponse, stream: StreamState, position: number, cursor: string) {
  const read = await ctx.engine.read(stream, position);
  const headers = readHeaders(stream, read, cursor);
  headers[HEADER.cacheControl] = "no-cache";
  const body = responseBody(stream, read.data);
  send(res, 200, headers, body);
  readBytes.at("long-poll").inc(body.length);
}

/** 204: nothing new (or the stream is closed and fully read). */
function sendTimeout(res: ServerResponse, stream: StreamState, cursor: string) {
  const headers = readHeaders(stream, { next: stream.tail, upToDate: true }, cursor);
  headers[HEADER.cacheControl] = "no-store";
  send(res, 204, headers);
}
