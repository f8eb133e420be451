import { HEADER, isJsonContentType } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { StreamState } from "../domain/model.js";
import { readBytes } from "../metrics/http-metrics.js";
import { cacheControl } from "./cache-policy.js";
import { sendCompressed, StreamGone } from "./compressed-body.js";
import { compressionHeaders, encodedEtag, planCompression } from "./compression.js";
import type { HttpContext } from "./context.js";
import { header } from "./parse.js";
import { etagFor, readHeaders } from "./read-encoding.js";
import { send, startBody } from "./respond.js";

/**
 * Stored bytes read per step of a streamed catch-up response. A step reads
 * whole stored batches, so a reader holds about max(this, largest append)
 * in memory at a time, whatever the size of the response.
 */
export const CATCH_UP_PIECE_BYTES = 1024 * 1024;

/**
 * The first piece is small and each next one twice as large, up to
 * CATCH_UP_PIECE_BYTES: when many readers start at once, each of them gets
 * its first bytes after a short read and write instead of waiting behind
 * everyone else's full megabyte.
 */
const FIRST_PIECE_BYTES = 64 * 1024;

function pieceBytes(index: number): number {
  return Math.min(CATCH_UP_PIECE_BYTES, FIRST_PIECE_BYTES * 2 ** Math.min(index, 10));
}

const OPEN_BRACKET = new Uint8Array([0x5b]);
const CLOSE_BRACKET = new Uint8Array([0x5d]);
const COMMA = new Uint8Array([0x2c]);

/**
 * A catch-up read (no `live`): one response from `from` (a message boundary)
 * to the tail as it was when the request arrived, streamed from storage in
 * pieces with backpressure. Headers go first, so they describe that range:
 * ETag and Stream-Next-Offset name its end, and Stream-Up-To-Date is set only
 * when it reaches the tail. A range larger than the limit (`--max-read`, or
 * `--read-chunk` when set) stops at the last message boundary within it.
 */
export async function sendCatchUp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, stream: StreamState, from: number) {
  const { maxReadBytes, readChunkBytes } = ctx.options;
  const limit = readChunkBytes > 0 ? Math.min(readChunkBytes, maxReadBytes) : maxReadBytes;
  const end = await ctx.engine.reads.endOf(stream, from, limit);
  const position = { next: end, upToDate: end >= stream.tail };
  const json = isJsonContentType(stream.contentType);
  // Stored JSON is framed `m1,m2,`: the body is `[`, the bytes without the last comma, `]`.
  const fullLength = json ? (end > from ? end - from + 1 : 2) : end - from;
  const plan = planCompression(ctx.options.compression, stream.contentType, header(req.headers, "accept-encoding"), fullLength);
  const etag = encodedEtag(etagFor(stream.path, from, position, stream.closed), plan.encoding);
  const headers = readHeaders(stream, position, null);
  headers[HEADER.etag] = etag;
  headers[HEADER.cacheControl] = cacheControl(position.upToDate ? "catch-up-tail" : "catch-up-range");
  compressionHeaders(headers, plan);
  if (header(req.headers, HEADER.ifNoneMatch) === etag) {
    send(res, 304, headers);
    return;
  }
  const reads = ctx.engine.reads;
  // Retention may drop the head between the 410 check and the read: the
  // first piece is read, then the earliest position checked again, before
  // anything is answered.
  const first = from < end ? await reads.piece(stream, from, end, pieceBytes(0)) : null;
  await reads.confirmRetained(stream, from);
  // Positions compaction emptied hold no bytes, so where there may be some the
  // length is not known before the end and the body goes chunked.
  const gaps = await reads.mayHaveGaps(stream, from);
  const body = bodyPieces(ctx, stream, first, from, end, json);
  if (plan.encoding !== null) {
    // Without compaction the bytes of a range never change (append-only), so its compressed form may be
    // kept; the creation time tells a recreated stream apart.
    const key = gaps ? null : `${stream.path}|${stream.createdAt}|${from}|${end}`;
    return sendCompressed(ctx, res, headers, plan.encoding, { key, length: fullLength, pieces: body });
  }
  startBody(res, 200, headers, gaps ? null : fullLength);
  try {
    for await (const part of body) if (!(await write(res, part))) return;
  } catch (error) {
    if (error instanceof StreamGone) return void res.destroy(); // what was promised cannot be sent
    throw error;
  }
  res.end();
}

/**
 * The response body of [from, end) as it is read from storage, piece by
 * piece (`first` already read): JSON inside brackets, each piece's messages
 * without their last framing comma and a comma between pieces; anything else
 * as stored. Throws StreamGone when the stream went away mid-response.
 */
async function* bodyPieces(
  ctx: HttpContext,
  stream: StreamState,
  first: Awaited<ReturnType<HttpContext["engine"]["reads"]["piece"]>> | null,
  from: number,
  end: number,
  json: boolean,
): AsyncGenerator<Uint8Array> {
  if (json) yield OPEN_BRACKET;
  let at = from;
  let wrote = false;
  let piece = first;
  let index = 0;
  while (piece !== null) {
    if (piece.end <= at) throw new StreamGone("the stream went away during the response");
    at = piece.end;
    if (piece.data.length > 0) {
      // Each piece ends on a message's comma: it is written before the next piece, never after the last.
      if (json && wrote) yield COMMA;
      yield json ? piece.data.subarray(0, piece.data.length - 1) : piece.data;
      wrote = true;
    }
    if (at >= end) break;
    // Reading a piece (SQLite is synchronous) and writing it to a socket that takes it at once involve no
    // I/O wait: without this a reader on a fast connection would loop through its whole range in
    // microtasks while every other reader, and every new request, waited for the event loop (a turn
    // comes after pending I/O: new requests, other readers' drains).
    await nextTurn();
    piece = await ctx.engine.reads.piece(stream, at, end, pieceBytes(++index));
  }
  if (json) yield CLOSE_BRACKET;
}

/** Writes and waits while the socket's buffer is full; false once the reader has gone. */
function write(res: ServerResponse, bytes: Uint8Array): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  readBytes.at("catch-up").inc(bytes.length);
  if (bytes.length === 0 || res.write(bytes)) return Promise.resolve(!res.destroyed);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}
