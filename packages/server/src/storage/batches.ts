import { concatBytes, isJsonContentType } from "@rill/protocol";

import type { StoredBatch } from "./store.js";

/**
 * A commit round's contiguous appends to one JSON stream are merged into
 * stored batches of at most this many bytes, so a busy stream stores (and
 * catch-up reads) a few large rows per round instead of one per append. No
 * boundary a reader depends on moves: the JSON framing still marks every
 * message. Other streams are never merged: there each append is a message
 * and its batch is the only record of where it ends (docs/offsets.md).
 */
export const MERGE_LIMIT = 64 * 1024;

/** Whether appends to a stream of this content type may share a stored batch. */
export function mayMergeBatches(contentType: string): boolean {
  return isJsonContentType(contentType);
}

/** The batch holding `position`, given each batch's start (ascending) and bytes. */
export function batchHolding(
  starts: readonly number[],
  chunks: readonly Uint8Array[],
  position: number,
): StoredBatch | undefined {
  const index = lastStartAtOrBefore(starts, position);
  if (index < 0) return undefined;
  const start = starts[index]!;
  const bytes = chunks[index]!;
  return position < start + bytes.length ? { start, bytes } : undefined;
}

/**
 * Cuts a read out of a stream's append batches, given each batch's start
 * position (ascending) and bytes. Shared by stores that hold batches in
 * memory or load a window of them from disk.
 *
 * Whole batches are returned — at least one, and more while they fit in
 * `maxBytes` — unless `splitBatches` is set, when the cut is exact. The first
 * batch is entered at `from` and the last is cut at `to`.
 */
export function sliceBatches(
  starts: readonly number[],
  chunks: readonly Uint8Array[],
  from: number,
  to: number,
  maxBytes: number,
  splitBatches: boolean,
): Uint8Array {
  let index = lastStartAtOrBefore(starts, from);
  if (index < 0) index = 0;
  const parts: Uint8Array[] = [];
  let size = 0;
  for (; index < starts.length; index++) {
    const start = starts[index]!;
    if (start >= to) break;
    const chunk = chunks[index]!;
    const end = start + chunk.length;
    if (end <= from) continue;
    let part = chunk.subarray(Math.max(0, from - start), Math.min(chunk.length, to - start));
    if (size + part.length > maxBytes && parts.length > 0 && !splitBatches) break;
    if (splitBatches && size + part.length > maxBytes) part = part.subarray(0, maxBytes - size);
    parts.push(part);
    size += part.length;
    if (size >= maxBytes) break;
  }
  return parts.length === 0 ? new Uint8Array(0) : concatBytes(parts, size);
}

function lastStartAtOrBefore(starts: readonly number[], position: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= position) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
