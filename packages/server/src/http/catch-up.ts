import { HEADER, isJsonContentType } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { StreamState } from "../engine/model.js";
import { readBytes } from "../metrics/http-metrics.js";
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

const OPEN_BRACKET = new Uint8Array([0x5b]);
const CLOSE_BRACKET = new Uint8Array([0x5d]);

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
  const etag = etagFor(stream.path, from, position, stream.closed);
  const headers = readHeaders(stream, position, null);
  headers[HEADER.etag] = etag;
  // A range that stops short of the tail never changes; the tail range must be revalidated.
  headers[HEADER.cacheControl] = position.upToDate ? "no-cache" : "public, max-age=60, stale-while-revalidate=300";
  if (header(req.headers, HEADER.ifNoneMatch) === etag) {
    send(res, 304, headers);
    return;
  }
  const json = isJsonContentType(stream.contentType);
  // Stored JSON is framed `m1,m2,`: the body is `[`, the bytes without the last comma, `]`.
  const bodyLength = json ? (end > from ? end - from + 1 : 2) : end - from;
  startBody(res, 200, headers, bodyLength);
  // Counted as promised: a reader that leaves early still had the bytes sent its way.
  readBytes.at("catch-up").inc(bodyLength);
  if (json && !(await write(res, OPEN_BRACKET))) return;
  let at = from;
  while (at < end) {
    const piece = await ctx.engine.reads.piece(stream, at, end, CATCH_UP_PIECE_BYTES);
    if (piece.length === 0) {
      // The stream went away mid-response: the promised length cannot be met.
      res.destroy();
      return;
    }
    at += piece.length;
    const out = json && at >= end ? piece.subarray(0, piece.length - 1) : piece;
    if (!(await write(res, out))) return;
  }
  if (json) res.end(CLOSE_BRACKET);
  else res.end();
}

/** Writes and waits while the socket's buffer is full; false once the reader has gone. */
function write(res: ServerResponse, bytes: Uint8Array): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
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
