import { isTextContentType } from "@rill/protocol";
import { promisify } from "node:util";
import {
  brotliCompress,
  constants,
  createBrotliCompress,
  createGzip,
  gzip,
  type BrotliCompress,
  type BrotliOptions,
  type Gzip,
  type ZlibOptions,
} from "node:zlib";
import type { Headers } from "./respond.js";

/**
 * Compression of catch-up responses: text and JSON streams only (binary
 * content types are always sent as stored), negotiated from Accept-Encoding,
 * with an ETag per encoding. A range of a cacheable size is compressed once
 * and served from a small cache to every reader that asks for the same range
 * in the same encoding; the work runs on libuv's thread pool, not the event
 * loop. Larger ranges are compressed as they stream (compressed-body.ts).
 */

export type Encoding = "br" | "gzip";

/** Bodies smaller than this gain little and are sent as they are. */
const MIN_COMPRESS_BYTES = 512;

// Brotli quality 4 of 11: on telemetry-like JSON as small as gzip -6 for about 1.5× its CPU
// (quality 5 saves another 8% for 1.5× more); the top levels cost 10-50× more.
const brotliOptions = (sizeHint: number): BrotliOptions => ({
  params: {
    [constants.BROTLI_PARAM_QUALITY]: 4,
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    ...(sizeHint > 0 ? { [constants.BROTLI_PARAM_SIZE_HINT]: sizeHint } : {}),
  },
});
const gzipOptions: ZlibOptions = { level: 6 };

const compressWith: Record<Encoding, (body: Uint8Array) => Promise<Buffer>> = {
  br: (body) => promisify(brotliCompress)(body, brotliOptions(body.length)),
  gzip: (body) => promisify(gzip)(body, gzipOptions),
};

/** The flush that ends a block without resetting the compressor's history (so the ratio holds). */
export function flushKindFor(encoding: Encoding): number {
  return encoding === "br" ? constants.BROTLI_OPERATION_FLUSH : constants.Z_SYNC_FLUSH;
}

/** A streaming compressor with the same settings, for bodies compressed as they are read. */
export function compressorFor(encoding: Encoding): Gzip | BrotliCompress {
  return encoding === "br" ? createBrotliCompress(brotliOptions(0)) : createGzip(gzipOptions);
}

/**
 * The client's preferred encoding among those we offer, by q-value (br wins
 * a tie), or null for identity. `*` stands for any coding not named; q=0
 * refuses one.
 */
export function negotiateEncoding(acceptEncoding: string | null | undefined): Encoding | null {
  if (!acceptEncoding) return null;
  const quality = new Map<string, number>();
  for (const part of acceptEncoding.split(",")) {
    const [token = "", ...params] = part.split(";");
    const name = token.trim().toLowerCase();
    if (name === "") continue;
    let q = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9]+(?:\.[0-9]*)?)\s*$/i.exec(param);
      if (match) q = Math.min(1, Number(match[1]));
    }
    quality.set(name === "x-gzip" ? "gzip" : name, q);
  }
  const of = (name: Encoding) => quality.get(name) ?? quality.get("*") ?? 0;
  const br = of("br");
  const gz = of("gzip");
  if (br <= 0 && gz <= 0) return null;
  return br >= gz ? "br" : "gzip";
}

export interface CompressionPlan {
  /** The encoding this response is sent in; null: as stored. */
  encoding: Encoding | null;
  /** Whether the response varies by Accept-Encoding (true for every compressible content type). */
  vary: boolean;
}

export function planCompression(
  enabled: boolean,
  contentType: string,
  acceptEncoding: string | null | undefined,
  bodyBytes: number,
): CompressionPlan {
  if (!enabled || !isTextContentType(contentType)) return { encoding: null, vary: false };
  return { encoding: bodyBytes >= MIN_COMPRESS_BYTES ? negotiateEncoding(acceptEncoding) : null, vary: true };
}

/** The entity tag of one encoding of a representation: `"…"` becomes `"…:br"`. */
export function encodedEtag(etag: string, encoding: Encoding | null): string {
  return encoding === null ? etag : `${etag.slice(0, -1)}:${encoding}"`;
}

/** Adds the headers a plan implies (before the 304 check: a 304 names the Vary too). */
export function compressionHeaders(headers: Headers, plan: CompressionPlan): void {
  if (plan.vary) headers.vary = "accept-encoding";
  if (plan.encoding !== null) headers["content-encoding"] = plan.encoding;
}

/**
 * Compressed chunks by stream identity, range and encoding, least recently
 * used out first, bounded by their total size. Pending compressions are
 * shared, so readers arriving together wait for the same work.
 */
export class CompressedChunkCache {
  private readonly entries = new Map<string, Promise<Buffer>>();
  private readonly sizes = new Map<string, number>();
  private total = 0;

  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  /** `body` is only built when the chunk is not cached yet. */
  compress(key: string, encoding: Encoding, body: () => Uint8Array | Promise<Uint8Array>): Promise<Buffer> {
    const cacheKey = `${key}|${encoding}`;
    const cached = this.entries.get(cacheKey);
    if (cached) {
      this.entries.delete(cacheKey); // re-inserted: most recently used
      this.entries.set(cacheKey, cached);
      return cached;
    }
    const pending = Promise.resolve()
      .then(body)
      .then((bytes) => compressWith[encoding](bytes));
    this.entries.set(cacheKey, pending);
    pending.then(
      (compressed) => this.account(cacheKey, compressed.length),
      () => this.entries.delete(cacheKey),
    );
    return pending;
  }

  private account(cacheKey: string, size: number): void {
    if (!this.entries.has(cacheKey)) return;
    if (size > this.maxBytes / 4) {
      this.entries.delete(cacheKey); // one huge chunk must not flush everything else
      return;
    }
    this.sizes.set(cacheKey, size);
    this.total += size;
    for (const oldest of this.entries.keys()) {
      if (this.total <= this.maxBytes) break;
      const oldSize = this.sizes.get(oldest);
      if (oldSize === undefined) continue; // still compressing
      this.entries.delete(oldest);
      this.sizes.delete(oldest);
      this.total -= oldSize;
    }
  }

  /** Bytes of compressed chunks held. */
  get size(): number {
    return this.total;
  }
}
