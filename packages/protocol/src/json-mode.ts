/**
 * JSON mode: streams whose content type is JSON store a sequence of messages.
 *
 * On append, a body that is a JSON array contributes each element as one
 * message (one level of flattening); any other JSON value is one message.
 * Messages are stored already framed — each message's JSON text followed by a
 * comma — so a catch-up read is `[` + stored bytes minus the last comma + `]`,
 * with no parsing or re-serialization on the way out. Byte positions that
 * follow a comma are exactly the message boundaries.
 */
import { isJsonSpace, JsonScanError, scanJson } from "./json-scan.js";

export class JsonModeError extends Error {
  override name = "JsonModeError";
}

const COMMA = 0x2c;

/** A UTF-8 byte order mark: allowed before a JSON text (RFC 8259 §8.1) and not part of it. */
function bomLength(body: Uint8Array): number {
  return body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
}

/**
 * Validates an append body and frames it for storage in one step, keeping
 * each message's bytes exactly as sent (only the whitespace around messages,
 * and a leading byte order mark, are dropped). One byte scan (json-scan.ts)
 * checks the UTF-8 and the JSON and finds the top-level array elements, so
 * nothing is decoded, parsed into objects or re-serialized.
 * Throws JsonModeError. When `options.counts` is given, its `messages` is set
 * to the number of messages framed (metrics want it).
 */
export function frameJsonBody(
  body: Uint8Array,
  options: { allowEmptyArray?: boolean; counts?: { messages: number } } = {},
): Uint8Array {
  const start = bomLength(body);
  // Elements written as JSON.stringify writes them ("[a,b,c]": one comma between each) are already framed
  // in place: the run from the first to the last is copied once. Only after other whitespace between two
  // of them is each element copied on its own, followed by a comma.
  let runStart = -1;
  let runEnd = -1;
  let out: Uint8Array | null = null;
  let written = 0;
  let elements = 0;
  try {
    scanJson(body, start, body.length, (from, to) => {
      elements++;
      if (out === null) {
        if (runStart === -1) runStart = from;
        else if (from !== runEnd + 1) {
          out = new Uint8Array(body.length);
          out.set(body.subarray(runStart, runEnd));
          written = runEnd - runStart;
          out[written++] = COMMA;
        }
        runEnd = to;
        if (out === null) return;
      }
      out.set(body.subarray(from, to), written);
      written += to - from;
      out[written++] = COMMA;
    });
  } catch (error) {
    if (error instanceof JsonScanError) {
      throw new JsonModeError(error.kind === "utf8" ? `body is not valid UTF-8: ${error.message}` : `body is not valid JSON: ${error.message}`);
    }
    throw error;
  }
  let first = start;
  let end = body.length;
  while (first < end && isJsonSpace(body[first]!)) first++;
  while (end > first && isJsonSpace(body[end - 1]!)) end--;
  const isArray = body[first] === 0x5b;
  if (options.counts) options.counts.messages = isArray ? elements : 1;
  if (!isArray) {
    const single = new Uint8Array(end - first + 1);
    single.set(body.subarray(first, end));
    single[single.length - 1] = COMMA;
    return single;
  }
  if (elements === 0) {
    if (!options.allowEmptyArray) throw new JsonModeError("an empty JSON array appends no messages");
    return new Uint8Array(0);
  }
  if (out !== null) return (out as Uint8Array).subarray(0, written);
  const run = new Uint8Array(runEnd - runStart + 1);
  run.set(body.subarray(runStart, runEnd));
  run[run.length - 1] = COMMA;
  return run;
}

/** Frames message texts for storage: `m1,m2,`. */
export function frameJsonMessages(messages: readonly string[]): string {
  let framed = "";
  for (const message of messages) framed += message + ",";
  return framed;
}

/** Turns stored, framed bytes into the JSON array a reader receives. */
export function framedToJsonArray(framed: Uint8Array): Uint8Array {
  const end = framed.length > 0 && framed[framed.length - 1] === COMMA ? framed.length - 1 : framed.length;
  const out = new Uint8Array(end + 2);
  out[0] = 0x5b; // [
  out.set(framed.subarray(0, end), 1);
  out[end + 1] = 0x5d; // ]
  return out;
}

/**
 * Byte length of the first `count` messages in framed bytes, or undefined when
 * there are fewer. Commas inside strings are skipped by tracking string state.
 */
export function framedMessagePrefixLength(framed: Uint8Array, count: number): number | undefined {
  if (count === 0) return 0;
  let seen = 0;
  let inString = false;
  let escaped = false;
  let depth = 0;
  for (let i = 0; i < framed.length; i++) {
    const byte = framed[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
      continue;
    }
    if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) depth++;
    else if (byte === 0x5d || byte === 0x7d) depth--;
    else if (byte === COMMA && depth === 0 && ++seen === count) return i + 1;
  }
  return undefined;
}
