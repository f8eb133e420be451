import { framedMessagePrefixLength } from "@rill/protocol";
import type { CompactionPolicy, TimedBatch } from "./model.js";

/** A compacted batch: the stored batch it replaces (start and stored size as planned) and what replaces it. */
export interface BatchRewrite {
  start: number;
  size: number;
  appendedAt: number;
  /** Runs of kept messages, each at its original position; empty when the whole batch goes. */
  pieces: { start: number; bytes: Uint8Array }[];
  removedMessages: number;
}

/**
 * Key compaction as a pure rule: given a JSON stream's stored batches, which
 * messages go. A message goes when a later message has the same key, or when
 * it is a delete (tombstone) older than the tombstone age that is the last of
 * its key. Only batches older than the lag are rewritten, and a kept message
 * keeps its position, so offsets handed out stay valid boundaries: a reader
 * resuming anywhere sees a subsequence of what it would have seen.
 */

/** The State Protocol's change events: `type` and `key` together name an entity. */
export const DEFAULT_KEY_POINTERS = ["/type", "/key"];
export const DEFAULT_TOMBSTONE_AGE_SECONDS = 86_400;

export interface CompactionPlan {
  rewrites: BatchRewrite[];
  /** When a pass could next remove something without new appends (ms), or null: only new appends can. */
  recheckAt: number | null;
}

interface Message {
  batch: number;
  /** Offset of the message's bytes (with its comma) inside its batch. */
  from: number;
  to: number;
  key: string | null;
  tombstone: boolean;
}

/**
 * Plans a compaction of `batches` (the stream's own batches in order, the
 * whole stream: a later message anywhere may supersede an earlier one).
 * Batches committed after `now - lagMs` are left as they are; so is every
 * batch before one of them, which keeps the rewritten region a prefix.
 */
export function planCompaction(
  batches: readonly TimedBatch[],
  policy: CompactionPolicy,
  now: number,
  lagMs: number,
): CompactionPlan {
  const settledBefore = now - lagMs;
  let compactable = batches.findIndex((batch) => batch.appendedAt > settledBefore);
  if (compactable < 0) compactable = batches.length;
  let recheckAt: number | null = compactable < batches.length ? batches[compactable]!.appendedAt + lagMs + 1 : null;

  const messages: Message[] = [];
  const lastOfKey = new Map<string, number>();
  batches.forEach((batch, index) => {
    for (const message of splitMessages(batch.bytes, policy.keyPointers)) {
      if (message.key !== null) lastOfKey.set(message.key, messages.length);
      messages.push({ ...message, batch: index });
    }
  });

  const tombstonesBefore = now - policy.tombstoneAgeSeconds * 1000;
  const removed = new Set<number>();
  messages.forEach((message, index) => {
    if (message.batch >= compactable || message.key === null) return;
    if (lastOfKey.get(message.key) !== index) removed.add(index);
    else if (message.tombstone) {
      const appendedAt = batches[message.batch]!.appendedAt;
      if (appendedAt < tombstonesBefore) removed.add(index);
      else recheckAt = Math.min(recheckAt ?? Infinity, appendedAt + policy.tombstoneAgeSeconds * 1000 + 1);
    }
  });

  const rewrites: BatchRewrite[] = [];
  let cursor = 0;
  for (let b = 0; b < compactable; b++) {
    const batch = batches[b]!;
    const pieces: BatchRewrite["pieces"] = [];
    let removedMessages = 0;
    let run: { from: number; to: number } | null = null;
    for (; cursor < messages.length && messages[cursor]!.batch === b; cursor++) {
      const message = messages[cursor]!;
      if (removed.has(cursor)) {
        removedMessages++;
        if (run) pieces.push(piece(batch, run));
        run = null;
      } else if (run) run.to = message.to;
      else run = { from: message.from, to: message.to };
    }
    if (run) pieces.push(piece(batch, run));
    if (removedMessages > 0) {
      rewrites.push({ start: batch.start, size: batch.bytes.length, appendedAt: batch.appendedAt, pieces, removedMessages });
    }
  }
  return { rewrites, recheckAt };
}

function piece(batch: TimedBatch, run: { from: number; to: number }) {
  return { start: batch.start + run.from, bytes: batch.bytes.slice(run.from, run.to) };
}

const decoder = new TextDecoder();

/** The framed messages of one batch, each with its key (null: not compacted) and whether it is a delete. */
function* splitMessages(framed: Uint8Array, pointers: readonly string[]): Generator<Omit<Message, "batch">> {
  let from = 0;
  while (from < framed.length) {
    const length = framedMessagePrefixLength(framed.subarray(from), 1);
    const to = length === undefined ? framed.length : from + length;
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(framed.subarray(from, length === undefined ? to : to - 1)));
    } catch {
      value = undefined; // stored JSON was validated on append; an unreadable message is simply kept
    }
    yield { from, to, key: messageKey(value, pointers), tombstone: isTombstone(value) };
    from = to;
  }
}

/** The key of a message: the values at every pointer, or null when one is missing. */
export function messageKey(value: unknown, pointers: readonly string[]): string | null {
  const parts: unknown[] = [];
  for (const pointer of pointers) {
    const found = resolvePointer(value, pointer);
    if (found === undefined) return null;
    parts.push(found);
  }
  return JSON.stringify(parts);
}

/** State Protocol delete: `headers.operation == "delete"`. */
function isTombstone(value: unknown): boolean {
  return resolvePointer(value, "/headers/operation") === "delete";
}

/** RFC 6901: `/a/b~1c` is member "b/c" of member "a"; array members by index. */
export function resolvePointer(value: unknown, pointer: string): unknown {
  if (pointer === "") return value;
  let current = value;
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (current === null || typeof current !== "object") return undefined;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else {
      if (!Object.prototype.hasOwnProperty.call(current, token)) return undefined;
      current = (current as Record<string, unknown>)[token];
    }
  }
  return current;
}
