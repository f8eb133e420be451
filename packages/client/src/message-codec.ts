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

const OPEN = utf8("[");
const COMMA = utf8(",");
const CLOSE = utf8("]");

/**
 * One message's bytes. `json` is whether the stream is a JSON stream, or
 * undefined while its content type is not known: a string or bytes then go
 * as they are, and any other value as JSON (only a JSON stream can take it).
 */
export function encodeMessage(value: unknown, json: boolean | undefined): Uint8Array {
  if (json === true) return utf8(jsonMessageText(value));
  if (typeof value === "string") return utf8(value);
  if (isBinary(value)) return toBytes(value);
  if (json === false) throw new DurableStreamError("A message for a non-JSON stream must be a string or bytes", "BAD_REQUEST");
  return utf8(serialize(value));
}

/** One request body holding these messages: a JSON array, or the bytes end to end. */
export function frameMessages(messages: readonly Uint8Array[], json: boolean): Uint8Array {
  if (!json) return concatBytes(messages);
  const parts: Uint8Array[] = [OPEN];
  messages.forEach((message, index) => {
    if (index > 0) parts.push(COMMA);
    parts.push(message);
  });
  parts.push(CLOSE);
  return concatBytes(parts);
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
