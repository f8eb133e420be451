import { framedMessagePrefixLength } from "@rill/protocol";
import type { StoredBatch } from "./model.js";

/** A whole message's place in a stream's offset space: [start, end). */
export interface MessageSpan {
  start: number;
  end: number;
}

/**
 * The message of `batch` that holds `position` (docs/offsets.md). In a JSON
 * stream a batch holds one or more framed messages, each ending with its
 * comma; in any other stream a batch is exactly one append, which is the
 * message. Bytes that do not parse as framing (never written by Rill) are
 * taken as one message to the end of the batch.
 */
export function messageSpanIn(batch: StoredBatch, position: number, json: boolean): MessageSpan {
  const batchEnd = batch.start + batch.bytes.length;
  if (!json || position === batch.start) {
    return { start: batch.start, end: json ? batch.start + firstMessageLength(batch.bytes) : batchEnd };
  }
  let offset = 0;
  while (offset < batch.bytes.length) {
    const length = framedMessagePrefixLength(batch.bytes.subarray(offset), 1);
    if (length === undefined) break;
    if (batch.start + offset + length > position) return { start: batch.start + offset, end: batch.start + offset + length };
    offset += length;
  }
  return { start: batch.start + offset, end: batchEnd };
}

function firstMessageLength(framed: Uint8Array): number {
  return framedMessagePrefixLength(framed, 1) ?? framed.length;
}
