import { concatBytes, isJsonContentType } from "@rill/protocol";

import type { StoredBatch } from "../domain/model.js";

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
 * What a read of stored batches found. Retention and compaction leave
 * positions no batch covers (compaction keeps each kept message at its
 * position), so the bytes returned can be fewer than the positions covered.
 */
export interface RangeRead {
  /** The stored bytes, batches (or their cut parts) one after another. */
  data: Uint8Array;
  /**
   * The position after the read: after its last byte when it stopped at
   * `maxBytes`, else `to` (nothing more is stored below `to`).
   */
  end: number;
  /** Where positions are skipped: before byte `index` of `data`, `skipped` positions hold nothing. */
  gaps: { index: number; skipped: number }[];
}

export const EMPTY_READ = (from: number): RangeRead => ({ data: new Uint8Array(0), end: from, gaps: [] });

/**
 * Cuts a read out of a stream's append batches, given each batch's start
 * position (ascending) and bytes. Shared by stores that hold batches in
 * memory or load a window of them from disk; batches need not be contiguous.
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
): RangeRead {
  let index = lastStartAtOrBefore(starts, from);
  if (index < 0) index = 0;
  const parts: Uint8Array[] = [];
  const gaps: RangeRead["gaps"] = [];
  let size = 0;
  let position = from;
  let full = false;
  for (; index < starts.length; index++) {
    const start = starts[index]!;
    if (start >= to) break;
    const chunk = chunks[index]!;
    const end = start + chunk.length;
    if (end <= from) continue;
    const first = Math.max(start, from);
    let part = chunk.subarray(first - start, Math.min(chunk.length, to - start));
    if (size + part.length > maxBytes && parts.length > 0 && !splitBatches) {
      full = true;
      break;
    }
    if (splitBatches && size + part.length > maxBytes) part = part.subarray(0, maxBytes - size);
    if (first > position) gaps.push({ index: size, skipped: first - position });
    parts.push(part);
    size += part.length;
    position = first + part.length;
    if (size >= maxBytes) {
      full = true;
      break;
    }
  }
  const data = parts.length === 0 ? new Uint8Array(0) : concatBytes(parts, size);
  return { data, end: full ? position : Math.max(position, to), gaps };
}

/** The position of byte `index` of a read that started at `from`, counting the gaps before it. */
export function positionInRead(read: RangeRead, from: number, index: number): number {
  let position = from + index;
  for (const gap of read.gaps) if (gap.index <= index) position += gap.skipped;
  return position;
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
