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
import { concatBytes } from "@rill/protocol";
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
  if (json === true) return jsonMessageText(value);
  if (typeof value === "string") return value;
  if (isBinary(value)) return toBytes(value);
  if (json === false) throw new DurableStreamError("A message for a non-JSON stream must be a string or bytes", "BAD_REQUEST");
  return serialize(value);
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

/** One request body holding these messages: a JSON array (encoded in one go), or the bytes end to end. */
export function frameMessages(parts: readonly MessagePart[], json: boolean): Uint8Array {
  if (json) {
    const texts = parts.map((part) => (typeof part === "string" ? part : fromUtf8(part)));
    return utf8(`[${texts.join(",")}]`);
  }
  return concatBytes(parts.map((part) => (typeof part === "string" ? utf8(part) : part)));
}

/** A value the caller handed over, settled: promises awaited, Blobs read into bytes. */
export async function settledMessage(value: unknown): Promise<unknown> {
  const settled = await value;
  if (typeof Blob !== "undefined" && settled instanceof Blob) return new Uint8Array(await settled.arrayBuffer());
  return settled;
}

/**
 * The JSON text of one message. Strings and bytes must be JSON text already;
 * text that is not is refused here rather than failing a whole batch at the
 * server.
 */
function jsonMessageText(value: unknown): string {
  if (typeof value !== "string" && !isBinary(value)) return serialize(value);
  const text = typeof value === "string" ? value : fromUtf8(toBytes(value));
  try {
    JSON.parse(text);
  } catch {
    throw new DurableStreamError(`Not valid JSON text: ${text.slice(0, 80)}`, "BAD_REQUEST");
  }
  return text;
}

function serialize(value: unknown): string {
  const text = value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined) throw new DurableStreamError("This value cannot be serialized as JSON", "BAD_REQUEST");
  return text;
}
