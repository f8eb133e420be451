import { HEADER, nextCursor, QUERY } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest } from "../engine/errors.js";
import type { LiveEvent } from "../engine/live-hub.js";
import type { StreamState } from "../engine/model.js";
import { readBytes } from "../metrics/http-metrics.js";
import { tokenExpired } from "./authorize.js";
import { sendCatchUp } from "./catch-up.js";
import type { HttpContext } from "./context.js";
import { tooManyReaders } from "./limits.js";
import { parseLive, parseOffsetParam, type RequestedOffset } from "./parse.js";
import { readHeaders, responseBody } from "./read-encoding.js";
import { send, sendError } from "./respond.js";
import { SseSession } from "./sse-session.js";

const EMPTY = new Uint8Array(0);

/**
 * `accessExpiresAt` is when the request's token expires (ms since the epoch),
 * or null: a live response must not outlive the token that authorized it.
 */
export async function handleGet(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  url: URL,
  accessExpiresAt: number | null = null,
) {
  const { offset, given } = parseOffsetParam(url.searchParams);
  const live = parseLive(url.searchParams);
  if (live !== "none" && !given) throw badRequest(`live=${live} needs an offset`, "INVALID_OFFSET");

  const stream = await ctx.engine.live(path);
  await ctx.engine.touch(stream);
  const position = await resolvePosition(ctx, stream, offset);
  const cursor = url.searchParams.get(QUERY.cursor);

  if (live === "sse") {
    admitReader(ctx, path);
    new SseSession(ctx, req, res, stream, position, cursor, accessExpiresAt).start();
    return;
  }
  if (live === "long-poll") return longPoll(ctx, req, res, stream, position, cursor, accessExpiresAt);
  if (offset.kind === "now") return sendNow(res, stream);
  return sendCatchUp(ctx, req, res, stream, position);
}

/** Refuses a reader that would wait live on a stream already at its limit of live readers. */
function admitReader(ctx: HttpContext, path: string): void {
  const limit = ctx.options.maxReadersPerStream;
  if (limit > 0 && ctx.engine.hub.readersOf(path) >= limit) throw tooManyReaders(path, limit);
}

/**
 * Where the read starts, by the offset rule of docs/offsets.md (a message
 * boundary, at most the tail). -1 starts where the retained data does; an
 * offset below it is a 410 in every read mode, before any positioning or wait.
 */
async function resolvePosition(ctx: HttpContext, stream: StreamState, offset: RequestedOffset): Promise<number> {
  if (offset.kind === "beginning") return stream.earliest;
  if (offset.kind === "now") return stream.tail;
  ctx.engine.checkRetained(stream, offset.position);
  return ctx.engine.reads.startOf(stream, offset.position);
}

/** `offset=now` without live: nothing to read, just where the tail is. Never cached. */
function sendNow(res: ServerResponse, stream: StreamState) {
  const headers = readHeaders(stream, { next: stream.tail, upToDate: true }, null);
  headers[HEADER.cacheControl] = "no-store";
  send(res, 200, headers, responseBody(stream, EMPTY));
}

/**
 * Long-poll: answer at once when there is data after `position` (or the
 * stream is closed); otherwise wait for the next committed append or the
 * timeout. The waiter subscribes before re-reading the tail, so an append
 * that lands in between cannot be missed. A wait that reaches the token's
 * expiry first ends with a 401, and the client's token refresh takes over.
 */
async function longPoll(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  stream: StreamState,
  position: number,
  clientCursor: string | null,
  accessExpiresAt: number | null,
) {
  const cursor = () => nextCursor(clientCursor);
  if (position < stream.tail) return sendRead(ctx, res, stream, position, cursor());
  if (stream.closed) return sendTimeout(res, stream, cursor());
  admitReader(ctx, stream.path);

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
    const expiresIn = accessExpiresAt === null ? Infinity : Math.max(0, accessExpiresAt - Date.now());
    const timer =
      expiresIn < ctx.options.longPollTimeoutMs
        ? setTimeout(() => finish(() => sendError(res, tokenExpired())), expiresIn)
        : setTimeout(answerNow, ctx.options.longPollTimeoutMs);
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
