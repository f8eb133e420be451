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
export class JsonModeError extends Error {
  override name = "JsonModeError";
}

const COMMA = 0x2c;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Validates an append body and frames it for storage in one step, keeping
 * each message's bytes exactly as sent (only the whitespace around messages
 * is dropped). Native JSON.parse does the validation; a byte scan finds the
 * top-level array elements, so nothing is re-serialized. Throws JsonModeError.
 * When `options.counts` is given, its `messages` is set to the number of
 * messages framed (the parse already knows it; metrics want it).
 */
export function frameJsonBody(
  body: Uint8Array,
  options: { allowEmptyArray?: boolean; counts?: { messages: number } } = {},
): Uint8Array {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new JsonModeError("body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JsonModeError(`body is not valid JSON: ${(error as Error).message}`);
  }
  let start = 0;
  let end = body.length;
  while (start < end && isJsonSpace(body[start]!)) start++;
  while (end > start && isJsonSpace(body[end - 1]!)) end--;

  if (options.counts) options.counts.messages = Array.isArray(value) ? value.length : 1;
  if (!Array.isArray(value)) {
    const out = new Uint8Array(end - start + 1);
    out.set(body.subarray(start, end));
    out[out.length - 1] = COMMA;
    return out;
  }
  if (value.length === 0) {
    if (!options.allowEmptyArray) throw new JsonModeError("an empty JSON array appends no messages");
    return new Uint8Array(0);
  }
  // Inside the outer brackets: copy each element, trimmed, followed by a comma.
  const out = new Uint8Array(end - start);
  let written = 0;
  let elementStart = -1;
  let elementEnd = -1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  const flush = () => {
    out.set(body.subarray(elementStart, elementEnd), written);
    written += elementEnd - elementStart;
    out[written++] = COMMA;
    elementStart = -1;
  };
  for (let i = start + 1; i < end - 1; i++) {
    const byte = body[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
      elementEnd = i + 1;
      continue;
    }
    if (isJsonSpace(byte)) continue;
    if (byte === COMMA && depth === 0) {
      flush();
      continue;
    }
    if (elementStart === -1) elementStart = i;
    if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) depth++;
    else if (byte === 0x5d || byte === 0x7d) depth--;
    elementEnd = i + 1;
  }
  flush();
  return out.subarray(0, written);
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
