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

/** Splits an append body into its messages' JSON texts. Throws JsonModeError. */
export function parseJsonMessages(body: string, options: { allowEmptyArray?: boolean } = {}): string[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new JsonModeError(`body is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) return [JSON.stringify(value)];
  if (value.length === 0 && !options.allowEmptyArray) {
    throw new JsonModeError("an empty JSON array appends no messages");
  }
  return value.map((item) => (item === undefined ? "null" : JSON.stringify(item)));
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

/** Number of messages in framed bytes. */
export function framedMessageCount(framed: Uint8Array): number {
  let count = 0;
  let position = 0;
  for (;;) {
    const next = framedMessagePrefixLength(framed.subarray(position), 1);
    if (next === undefined) return count;
    count++;
    position += next;
  }
}
