import { frameJsonBody, HEADER, isJsonContentType, JsonModeError } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest } from "../domain/errors.js";
import { recordAppend } from "../metrics/append-metrics.js";
import { readBody } from "./body.js";
import { tooManyStreams } from "./limits.js";
import type { HttpContext } from "./context.js";
import {
  parseClosed,
  parseContentType,
  parseExpiresAt,
  parseFork,
  parseProducer,
  parseStreamSeq,
  parseTtl,
} from "./parse.js";
import { parseCompaction, parseRetention } from "./parse-retention.js";
import { send, type Headers } from "./respond.js";
import { metadataHeaders, tailHeaders } from "./stream-headers.js";

/**
 * JSON streams store framed messages, validated once here; everything else is
 * stored as sent (one message per non-empty body). `counts` learns how many.
 */
function frameBody(body: Uint8Array, contentType: string | null, allowEmptyArray: boolean, counts?: { messages: number }): Uint8Array {
  if (counts) counts.messages = body.length > 0 ? 1 : 0;
  if (body.length === 0 || !isJsonContentType(contentType)) return body;
  try {
    return frameJsonBody(body, { allowEmptyArray, counts });
  } catch (error) {
    if (error instanceof JsonModeError) throw badRequest(error.message, "INVALID_JSON");
    throw error;
  }
}

export async function handlePut(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, path: string, url: URL) {
  const forkRequest = parseFork(req.headers, (value) => ctx.resolveStreamRef(value));
  // A fork may omit (or garble) its content type: it inherits the source's.
  let contentType: string | null;
  try {
    contentType = parseContentType(req.headers);
  } catch (error) {
    if (!forkRequest) throw error;
    contentType = null;
  }
  const ttlSeconds = parseTtl(req.headers);
  const expiresAt = parseExpiresAt(req.headers);
  if (ttlSeconds !== null && expiresAt !== null) {
    throw badRequest("send either Stream-TTL or Stream-Expires-At, not both", "INVALID_HEADER");
  }
  const closed = parseClosed(req.headers);
  const retention = parseRetention(req.headers);
  const compaction = parseCompaction(req.headers);
  await admitNewStream(ctx, path);
  const body = await readBody(req, ctx.options.maxBodyBytes);
  const resolved = forkRequest ? await ctx.engine.resolveFork(forkRequest) : null;
  const framingType = contentType ?? resolved?.source.contentType ?? null;
  if (compaction && !isJsonContentType(framingType)) {
    throw badRequest("Rill-Compaction: key needs a JSON stream (Content-Type: application/json)", "INVALID_HEADER");
  }
  const data = frameBody(body, framingType, true);

  const fork = resolved?.fork ?? null;
  const command = { path, contentType, ttlSeconds, expiresAt, closed, data, fork, retention, compaction };
  const outcome = await ctx.engine.create(command);
  const headers: Headers = metadataHeaders(outcome.stream);
  if (outcome.created) headers[HEADER.location] = `${url.protocol}//${url.host}${url.pathname}`;
  send(res, outcome.created ? 201 : 200, headers);
}

/**
 * Refuses to create a stream past the server's limit (a re-create of an
 * existing stream is always answered). Concurrent creates may overshoot it by
 * as many as are in flight together.
 */
async function admitNewStream(ctx: HttpContext, path: string): Promise<void> {
  const limit = ctx.options.maxStreams;
  if (limit <= 0 || (await ctx.engine.isStored(path))) return;
  if ((await ctx.engine.countStreams()) >= limit) throw tooManyStreams(limit);
}

export async function handlePost(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, path: string) {
  const producer = parseProducer(req.headers);
  const streamSeq = parseStreamSeq(req.headers);
  const close = parseClosed(req.headers);
  const contentType = parseContentType(req.headers);
  const body = await readBody(req, ctx.options.maxBodyBytes);
  if (body.length === 0 && !close) {
    throw badRequest("an append needs a non-empty body (or Stream-Closed: true to close)", "EMPTY_BODY");
  }
  if (body.length > 0 && contentType === null) {
    throw badRequest("an append with a body needs a Content-Type", "INVALID_HEADER");
  }
  const counts = { messages: 0 };
  const data = frameBody(body, contentType, false, counts);
  const outcome = await ctx.engine.append({ path, contentType, data, streamSeq, producer, close });
  recordAppend(outcome, producer !== null, data.length, counts.messages);

  const headers: Headers = tailHeaders(outcome.stream);
  if (outcome.producer) {
    headers[HEADER.producerEpoch] = String(outcome.producer.epoch);
    headers[HEADER.producerSeq] = String(outcome.producer.seq);
  }
  // A producer's new data is acknowledged with 200, its retries with 204; plain appends are always 204.
  const status = outcome.kind === "appended" && producer !== null && data.length > 0 ? 200 : 204;
  send(res, status, headers);
}

export async function handleDelete(ctx: HttpContext, res: ServerResponse, path: string) {
  await ctx.engine.delete(path);
  send(res, 204, {});
}
