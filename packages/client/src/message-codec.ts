/**
 * The one codec for messages written to a stream, used by DurableStream
 * (append, close) and IdempotentProducer alike, so a value becomes the same
 * bytes whichever way it is sent:
 * - JSON streams: strings and bytes are JSON text already (as in the official
 *   client) and are checked to parse; other values are serialized. A request
 *   carries its messages as one JSON array, `[m1,m2]`, which the server
 *   flattens back into messages.
 * - other streams: strings (UTF-8) and bytes, concatenated as they are.
 */
import { concatBytes, JsonScanError, scanJson } from "@rill/protocol";
import { fromUtf8, isBinary, toBytes, utf8 } from "./body.js";
import { DurableStreamError } from "./errors.js";

/** What a message adds to a JSON request besides its own bytes: the comma (or closing bracket) after it. */
export const JSON_MESSAGE_OVERHEAD = 1;
/** What a JSON request adds once: the opening bracket. */
export const JSON_REQUEST_OVERHEAD = 1;

/**
 * A message as it waits in a batch: JSON text stays a string (the batch is
 * encoded once, when it is sent), anything else is bytes. `json` is whether
 * the stream is a JSON stream, or undefined while its content type is not
 * known: a string or bytes then go as they are, and any other value as JSON
 * (only a JSON stream can take it).
 */
export type MessagePart = string | Uint8Array;

export function messagePart(value: unknown, json: boolean | undefined): MessagePart {
  return sizedPart(value, json).part;
}

/** A message part and its UTF-8 size in a request body. */
export interface SizedPart {
  part: MessagePart;
  bytes: number;
}

/** messagePart, with the part's size: checking JSON text measures it anyway. */
export function sizedPart(value: unknown, json: boolean | undefined): SizedPart {
  if (json === true) return jsonMessageText(value);
  if (typeof value === "string") return { part: value, bytes: partBytes(value) };
  if (isBinary(value)) {
    const bytes = toBytes(value);
    return { part: bytes, bytes: bytes.length };
  }
  if (json === false) throw new DurableStreamError("A message for a non-JSON stream must be a string or bytes", "BAD_REQUEST");
  const text = serialize(value);
  return { part: text, bytes: partBytes(text) };
}

/** One message's bytes. */
export function encodeMessage(value: unknown, json: boolean | undefined): Uint8Array {
  const part = messagePart(value, json);
  return typeof part === "string" ? utf8(part) : part;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** How many bytes a part weighs in a request body (its UTF-8 length), without encoding ASCII text. */
export function partBytes(part: MessagePart): number {
  if (typeof part !== "string") return part.length;
  return NON_ASCII.test(part) ? utf8(part).length : part.length;
}

const encoder = new TextEncoder();

/**
 * One request body holding these messages: a JSON array, or the bytes end to
 * end. `bytes`, when the caller knows it, is the parts' total UTF-8 size: the
 * body is then written straight into one buffer of its final size (no joined
 * string, no second copy).
 */
export function frameMessages(parts: readonly MessagePart[], json: boolean, bytes?: number): Uint8Array {
  if (!json) return concatBytes(parts.map((part) => (typeof part === "string" ? utf8(part) : part)));
  if (bytes === undefined) {
    const texts = parts.map((part) => (typeof part === "string" ? part : fromUtf8(part)));
    return utf8(`[${texts.join(",")}]`);
  }
  const body = new Uint8Array(bytes + parts.length + (parts.length === 0 ? 2 : 1));
  body[0] = 0x5b; // [
  let at = 1;
  for (const part of parts) {
    if (typeof part === "string") at += encoder.encodeInto(part, body.subarray(at)).written;
    else {
      body.set(part, at);
      at += part.length;
    }
    body[at++] = 0x2c; // ,
  }
  // The last comma becomes the closing bracket.
  body[parts.length === 0 ? at++ : at - 1] = 0x5d; // ]
  return body.subarray(0, at);
}

/** A value the caller handed over, settled: promises awaited, Blobs read into bytes. */
export async function settledMessage(value: unknown): Promise<unknown> {
  const settled = await value;
  if (typeof Blob !== "undefined" && settled instanceof Blob) return new Uint8Array(await settled.arrayBuffer());
  return settled;
}

/** Where JSON text is encoded to be checked; grown on demand, kept while small. */
let scratch = new Uint8Array(64 * 1024);
const SCRATCH_KEPT = 1024 * 1024;

/**
 * The JSON text of one message, and its UTF-8 size. Strings and bytes must be
 * JSON text already; text that is not is refused here rather than failing a
 * whole batch at the server. The check is the server's own byte scan
 * (@rill/protocol json-scan.ts) over the text encoded into a reused buffer:
 * no parsed value for the collector, and the size comes with it.
 */
function jsonMessageText(value: unknown): SizedPart {
  if (typeof value !== "string" && !isBinary(value)) {
    const text = serialize(value);
    return { part: text, bytes: partBytes(text) };
  }
  let text: string;
  let size: number;
  let checked: Uint8Array;
  if (typeof value === "string") {
    text = value;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const needed = value.length * 3;
    if (needed > scratch.length) {
      const grown = new Uint8Array(needed);
      if (needed <= SCRATCH_KEPT) scratch = grown;
      checked = grown;
    } else {
      checked = scratch;
    }
    size = encoder.encodeInto(value, checked).written;
  } else {
    checked = toBytes(value);
    size = checked.length;
    text = fromUtf8(checked);
  }
  try {
    scanJson(checked, 0, size);
  } catch (error) {
    if (!(error instanceof JsonScanError)) throw error;
    throw new DurableStreamError(`Not valid JSON text (${error.message}): ${text.slice(0, 80)}`, "BAD_REQUEST");
  }
  // Checked UTF-8 decodes losslessly: the text is as long in UTF-8 as the bytes were.
  return { part: text, bytes: size };
}

function serialize(value: unknown): string {
  const text = value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined) throw new DurableStreamError("This value cannot be serialized as JSON", "BAD_REQUEST");
  return text;
}
