/** Turning user values into request bodies, and response payloads back. */
import { DurableStreamError } from "./errors.js";

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function isBinary(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/** Bytes of a string or binary value. */
export function toBytes(value: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof value === "string") return utf8(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Joins JSON array texts into one array text without parsing them:
 * `[1,2]` and `[3]` give `[1,2,3]`; empty arrays vanish.
 */
export function mergeJsonArrayTexts(texts: readonly string[]): string {
  if (texts.length === 1) return texts[0]!;
  const inner: string[] = [];
  for (const text of texts) {
    const trimmed = text.trim();
    if (!trimmed.startsWith("[") || !trimmed.endsWith("]")) {
      throw new DurableStreamError(`Expected a JSON array from the server, got: ${trimmed.slice(0, 80)}`, "PARSE_ERROR");
    }
    const body = trimmed.slice(1, -1).trim();
    if (body.length > 0) inner.push(body);
  }
  return `[${inner.join(",")}]`;
}

export function parseJsonArray(text: string): unknown[] {
  if (text.trim().length === 0) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DurableStreamError(`Invalid JSON from the server: ${(error as Error).message}`, "PARSE_ERROR", undefined, text.slice(0, 200));
  }
  return Array.isArray(value) ? value : [value];
}

export function decodeBase64(text: string): Uint8Array {
  const clean = text.replace(/[\s]/g, "");
  let binary: string;
  try {
    binary = atob(clean);
  } catch {
    throw new DurableStreamError("Invalid base64 in an SSE data event", "PARSE_ERROR", undefined, clean.slice(0, 80));
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * A request body for a stream of the given kind. For JSON streams a
 * non-string, non-binary value is serialized; everything else is sent as is.
 */
export async function requestBody(value: unknown, json: boolean): Promise<BodyInit | undefined> {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (isBinary(value)) return toBytes(value) as unknown as BodyInit;
  if (typeof Blob !== "undefined" && value instanceof Blob) return value;
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) return value;
  if (json) return JSON.stringify(value);
  throw new DurableStreamError("Body must be a string or bytes for a non-JSON stream", "BAD_REQUEST");
}
