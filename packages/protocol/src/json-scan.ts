/**
 * A strict JSON (RFC 8259) validator over UTF-8 bytes that also finds the
 * elements of a top-level array, in one pass and without building a value.
 *
 * Appends to JSON streams used to be checked with TextDecoder + JSON.parse
 * and then scanned a second time for element boundaries; for a 1 MB batch
 * that was three passes and a whole object graph for the collector. This
 * accepts exactly what a fatal TextDecoder followed by JSON.parse accepts
 * (the property test holds it to that). UTF-8 is checked where it can occur:
 * inside strings (anywhere else a byte of 0x80 or more is a syntax error), so
 * ASCII text pays nothing for it. Plain JavaScript: the browser client shares
 * this package.
 *
 * Nesting is tracked on an explicit stack, not by recursion: a body of a
 * million "[" is refused or accepted like any other, never a stack overflow.
 */
export class JsonScanError extends Error {
  override name = "JsonScanError";
  /** "utf8" when the bytes are not UTF-8 at all; "syntax" when they are, but not JSON. */
  constructor(readonly kind: "utf8" | "syntax", message: string) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const IN_ARRAY = 0;
const IN_OBJECT = 1;

let sharedStack = new Uint8Array(64);

/** Receives each element of a top-level array as [start, end) byte positions. */
export type ElementSink = (start: number, end: number) => void;

/** JSON whitespace (RFC 8259): space, tab, line feed, carriage return. */
export function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function isDigit(byte: number): boolean {
  return byte >= ZERO && byte <= NINE;
}

function isHex(byte: number): boolean {
  return (byte >= ZERO && byte <= NINE) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

function describe(bytes: Uint8Array, at: number): string {
  if (at >= bytes.length) return "unexpected end of input";
  const byte = bytes[at]!;
  const shown = byte >= 0x20 && byte < 0x7f ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16).padStart(2, "0")}`;
  return `unexpected ${shown} at position ${at}`;
}

function fail(bytes: Uint8Array, at: number, end: number): never {
  if (at < end && bytes[at]! >= 0x80 && utf8SequenceEnd(bytes, at, end) === -1) {
    throw new JsonScanError("utf8", `invalid UTF-8 at position ${at}`);
  }
  throw new JsonScanError("syntax", describe(bytes.subarray(0, end), at));
}

const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/**
 * Position after the UTF-8 sequence whose lead byte (0x80 or more) is at `i`,
 * or -1 when it is not well-formed (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), as a fatal TextDecoder judges it.
 */
function utf8SequenceEnd(bytes: Uint8Array, i: number, end: number): number {
  const lead = bytes[i]!;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    else if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    else if (lead === 0xf4) high = 0x8f;
  } else return -1;
  if (i + length > end) return -1;
  const second = bytes[i + 1]!;
  if (second < low || second > high) return -1;
  for (let k = 2; k < length; k++) if (!isContinuation(bytes[i + k]!)) return -1;
  return i + length;
}

/** Position after the string that starts at `i` (its opening quote). */
function skipString(bytes: Uint8Array, i: number, end: number): number {
  i++;
  for (;;) {
    // The common case, plain ASCII text, in a tight loop.
    let byte = 0;
    while (i < end) {
      byte = bytes[i]!;
      if (byte === QUOTE || byte === BACKSLASH || byte < 0x20 || byte >= 0x80) break;
      i++;
    }
    if (i >= end) fail(bytes, i, end);
    if (byte === QUOTE) return i + 1;
    if (byte >= 0x80) {
      const next = utf8SequenceEnd(bytes, i, end);
      if (next === -1) throw new JsonScanError("utf8", `invalid UTF-8 at position ${i}`);
      i = next;
      continue;
    }
    if (byte < 0x20) fail(bytes, i, end); // control characters must be escaped
    // An escape: \" \\ \/ \b \f \n \r \t or \uXXXX (any code unit, lone surrogates included, as JSON.parse takes them).
    const escaped = i + 1 < end ? bytes[i + 1]! : -1;
    if (escaped === 0x75) {
      for (let k = 2; k < 6; k++) if (i + k >= end || !isHex(bytes[i + k]!)) fail(bytes, i + k, end);
      i += 6;
    } else if (
      escaped === QUOTE || escaped === BACKSLASH || escaped === 0x2f ||
      escaped === 0x62 || escaped === 0x66 || escaped === 0x6e || escaped === 0x72 || escaped === 0x74
    ) {
      i += 2;
    } else {
      fail(bytes, i + 1, end);
    }
  }
}

/** Position after the number that starts at `i`: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
function skipNumber(bytes: Uint8Array, i: number, end: number): number {
  if (bytes[i] === MINUS) i++;
  if (i < end && bytes[i] === ZERO) i++;
  else if (i < end && isDigit(bytes[i]!)) while (i < end && isDigit(bytes[i]!)) i++;
  else fail(bytes, i, end);
  if (i < end && bytes[i] === DOT) {
    i++;
    if (i >= end || !isDigit(bytes[i]!)) fail(bytes, i, end);
    while (i < end && isDigit(bytes[i]!)) i++;
  }
  if (i < end && (bytes[i] === 0x65 || bytes[i] === 0x45)) {
    i++;
    if (i < end && (bytes[i] === PLUS || bytes[i] === MINUS)) i++;
    if (i >= end || !isDigit(bytes[i]!)) fail(bytes, i, end);
    while (i < end && isDigit(bytes[i]!)) i++;
  }
  return i;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

function skipLiteral(bytes: Uint8Array, i: number, end: number, literal: readonly number[]): number {
  for (let k = 0; k < literal.length; k++) if (i + k >= end || bytes[i + k] !== literal[k]) fail(bytes, i + k, end);
  return i + literal.length;
}

function skipSpace(bytes: Uint8Array, i: number, end: number): number {
  while (i < end && isJsonSpace(bytes[i]!)) i++;
  return i;
}

/**
 * Checks that bytes[start, end) is one JSON text (whitespace around it
 * allowed). When the text is an array and `onElement` is given, it is called
 * with each element's position, in order, whitespace excluded. Throws
 * JsonScanError naming the first offending position. `onElement` must not
 * start another scan (the scans share one stack).
 */
export function scanJson(bytes: Uint8Array, start: number, end: number, onElement?: ElementSink): void {
  // A scan runs start to end without yielding, so one stack serves every scan (a single append's body
  // would otherwise pay for a typed array of its own).
  let stack = sharedStack;
  let depth = 0;
  let i = skipSpace(bytes, start, end);
  // Elements are reported only for an array at the top.
  const report = onElement !== undefined && bytes[i] === OPEN_ARRAY;
  let elementStart = -1;

  value: for (;;) {
    // A value starts at i (whitespace already skipped).
    if (report && depth === 1) elementStart = i;
    const first = i < end ? bytes[i]! : -1;
    if (first === OPEN_ARRAY || first === OPEN_OBJECT) {
      if (depth === stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
        // Kept for the next scans while moderate; a freak depth's stack goes with its scan.
        if (grown.length <= 64 * 1024) sharedStack = grown;
      }
      stack[depth++] = first === OPEN_ARRAY ? IN_ARRAY : IN_OBJECT;
      i = skipSpace(bytes, i + 1, end);
      const closing = first === OPEN_ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT;
      if (i < end && bytes[i] === closing) {
        depth--;
        i++;
      } else if (first === OPEN_OBJECT) {
        i = member(bytes, i, end);
        continue value;
      } else {
        continue value;
      }
    } else if (first === QUOTE) {
      i = skipString(bytes, i, end);
    } else if (first === MINUS || isDigit(first)) {
      i = skipNumber(bytes, i, end);
    } else if (first === 0x74) {
      i = skipLiteral(bytes, i, end, TRUE);
    } else if (first === 0x66) {
      i = skipLiteral(bytes, i, end, FALSE);
    } else if (first === 0x6e) {
      i = skipLiteral(bytes, i, end, NULL);
    } else {
      fail(bytes, i, end);
    }

    // A value ended at i: report it, then close containers until one continues with a comma.
    for (;;) {
      if (report && depth === 1) onElement!(elementStart, i);
      i = skipSpace(bytes, i, end);
      if (depth === 0) {
        if (i !== end) fail(bytes, i, end);
        return;
      }
      const inObject = stack[depth - 1] === IN_OBJECT;
      const byte = i < end ? bytes[i]! : -1;
      if (byte === COMMA) {
        i = skipSpace(bytes, i + 1, end);
        if (inObject) i = member(bytes, i, end);
        continue value;
      }
      if (byte !== (inObject ? CLOSE_OBJECT : CLOSE_ARRAY)) fail(bytes, i, end);
      depth--;
      i++;
    }
  }
}

/** An object member's key and colon at i; returns where its value starts. */
function member(bytes: Uint8Array, i: number, end: number): number {
  if (i >= end || bytes[i] !== QUOTE) fail(bytes, i, end);
  i = skipSpace(bytes, skipString(bytes, i, end), end);
  if (i >= end || bytes[i] !== COLON) fail(bytes, i, end);
  return skipSpace(bytes, i + 1, end);
}
