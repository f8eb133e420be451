import type { ServerResponse } from "node:http";
import { readBytes } from "../metrics/http-metrics.js";
import { compressorFor, flushKindFor, type Encoding } from "./compression.js";
import type { HttpContext } from "./context.js";
import { send, startBody, type Headers } from "./respond.js";

/**
 * Ranges up to this size are compressed whole, once, and kept in the chunk
 * cache for every reader of the same range (a CDN-sized `--read-chunk`, the
 * tail of a stream many readers catch up on); larger ones are compressed as
 * they stream from storage, with backpressure, and not kept.
 */
export const CACHED_RANGE_BYTES = 8 * 1024 * 1024;

/** Thrown by a catch-up body when its stream went away in the middle of a response. */
export class StreamGone extends Error {}

export interface CatchUpBody {
  /** Identity of the range (stream, creation, from, to) for the cache; null: its bytes may change (compaction), never cache. */
  key: string | null;
  /** Uncompressed length, or an upper bound of it. */
  length: number;
  pieces: AsyncIterable<Uint8Array>;
}

/** Sends a catch-up body in `encoding`; `headers` already name the encoding (compressionHeaders). */
export async function sendCompressed(ctx: HttpContext, res: ServerResponse, headers: Headers, encoding: Encoding, body: CatchUpBody) {
  if (body.key !== null && body.length <= CACHED_RANGE_BYTES) {
    let compressed: Buffer;
    try {
      compressed = await ctx.compressedChunks.compress(body.key, encoding, () => collect(body.pieces, body.length));
    } catch (error) {
      if (error instanceof StreamGone) return void res.destroy();
      throw error;
    }
    readBytes.at("catch-up").inc(compressed.length);
    send(res, 200, headers, compressed);
    return;
  }
  startBody(res, 200, headers, null);
  const compressor = compressorFor(encoding);
  compressor.on("data", (chunk: Buffer) => readBytes.at("catch-up").inc(chunk.length));
  compressor.pipe(res as unknown as NodeJS.WritableStream);
  res.once("close", () => compressor.destroy());
  try {
    for await (const piece of body.pieces) {
      if (res.destroyed) return;
      const roomLeft = compressor.write(piece);
      // Each piece of storage (1 MiB) goes out as soon as it is compressed: without a flush brotli
      // holds its output back for megabytes, and the reader waits for its first byte.
      compressor.flush(flushKindFor(encoding));
      if (!roomLeft) await drained(compressor, res);
    }
  } catch (error) {
    // Headers are out: a reader can only learn of the failure from a cut response.
    res.destroy();
    if (error instanceof StreamGone) return;
    throw error;
  }
  compressor.end();
}

/** Waits for the compressor to accept more input, or for the reader to go away. */
function drained(compressor: NodeJS.EventEmitter, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      compressor.off("drain", done);
      res.off("close", done);
      resolve();
    };
    compressor.once("drain", done);
    res.once("close", done);
  });
}

async function collect(pieces: AsyncIterable<Uint8Array>, length: number): Promise<Uint8Array> {
  const body = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const piece of pieces) {
    body.set(piece, at);
    at += piece.length;
  }
  return body.subarray(0, at);
}
