import { SqliteBatchCache } from "./sqlite-batch-cache.js";
import type { SqliteStatements } from "./sqlite-schema.js";

/** start, length, and the bytes when the batch is small enough to come with the query (else null). */
type BatchSpan = [number, number, Uint8Array | null];

/**
 * How the SQLite store reads a window of a stream's batches: the queries give
 * each batch's start and length, small batches' bytes inline, and large ones
 * come from the shared batch cache (read from SQLite when it lacks them).
 */
export class SqliteBatchReads {
  private readonly cache: SqliteBatchCache;

  constructor(
    private readonly sql: SqliteStatements,
    cacheBytes: number,
  ) {
    this.cache = new SqliteBatchCache(cacheBytes);
  }

  /**
   * The window sliceBatches can use: the batch holding `from`, then following
   * batches until the bytes loaded reach `maxBytes` or `to`.
   */
  window(streamId: number, from: number, to: number, maxBytes: number): { starts: number[]; chunks: Uint8Array[] } {
    const starts: number[] = [];
    const chunks: Uint8Array[] = [];
    let size = 0;
    const first = this.sql.batchSpanAtOrBefore.get(streamId, from) as BatchSpan | undefined;
    if (first && first[0] + first[1] > from) {
      starts.push(first[0]);
      chunks.push(this.bytesOf(streamId, first));
      size += Math.min(first[0] + first[1], to) - from;
    }
    if (size < maxBytes) {
      for (const span of this.sql.batchSpansAfter.iterate(streamId, from, to) as IterableIterator<BatchSpan>) {
        starts.push(span[0]);
        chunks.push(this.bytesOf(streamId, span));
        size += span[1];
        if (size >= maxBytes) break;
      }
    }
    return { starts, chunks };
  }

  private bytesOf(streamId: number, [start, length, inline]: BatchSpan): Uint8Array {
    if (inline !== null) return inline;
    let bytes = this.cache.get(streamId, start, length);
    if (bytes === undefined) {
      bytes = this.sql.batchBytes.get(streamId, start) as Uint8Array;
      this.cache.offer(streamId, start, bytes);
    }
    return bytes;
  }
}
