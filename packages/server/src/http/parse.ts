import {
  HEADER,
  isValidContentType,
  OFFSET_BEGINNING,
  OFFSET_NOW,
  parseOffset,
  QUERY,
  LIVE_MODE,
} from "@rill/protocol";
import type { IncomingHttpHeaders } from "node:http";
import { badRequest } from "../domain/errors.js";
import type { ForkRequest } from "../domain/commands.js";
import type { ProducerRef } from "../domain/model.js";
import type { ReadStart } from "../engine/stream-reads.js";

/** Turns raw request headers and query parameters into typed values, or a 400 naming the problem. */

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

export function parseContentType(headers: IncomingHttpHeaders): string | null {
  const value = header(headers, HEADER.contentType);
  if (value === null || value.trim() === "") return null;
  if (!isValidContentType(value)) throw badRequest(`invalid Content-Type: ${value}`, "INVALID_HEADER");
  return value.trim();
}

export function parseTtl(headers: IncomingHttpHeaders): number | null {
  const value = header(headers, HEADER.streamTtl);
  if (value === null) return null;
  if (!DECIMAL.test(value) || !Number.isSafeInteger(Number(value))) {
    throw badRequest(`Stream-TTL must be a non-negative whole number of seconds without leading zeros, got "${value}"`, "INVALID_HEADER");
  }
  return Number(value);
}

export function parseExpiresAt(headers: IncomingHttpHeaders): number | null {
  const value = header(headers, HEADER.streamExpiresAt);
  if (value === null) return null;
  const time = Date.parse(value);
  if (!RFC3339.test(value.trim()) || Number.isNaN(time)) {
    throw badRequest(`Stream-Expires-At must be an RFC 3339 timestamp, got "${value}"`, "INVALID_HEADER");
  }
  return time;
}

/** `Stream-Closed: true` closes; any other value (or none) does not. */
export function parseClosed(headers: IncomingHttpHeaders): boolean {
  return header(headers, HEADER.streamClosed)?.trim().toLowerCase() === "true";
}

export function parseProducer(headers: IncomingHttpHeaders): ProducerRef | null {
  const id = header(headers, HEADER.producerId);
  const epoch = header(headers, HEADER.producerEpoch);
  const seq = header(headers, HEADER.producerSeq);
  if (id === null && epoch === null && seq === null) return null;
  if (id === null || epoch === null || seq === null) {
    throw badRequest("Producer-Id, Producer-Epoch and Producer-Seq must be sent together", "INVALID_HEADER");
  }
  if (id.trim() === "") throw badRequest("Producer-Id must not be empty", "INVALID_HEADER");
  return { id, epoch: producerNumber("Producer-Epoch", epoch), seq: producerNumber("Producer-Seq", seq) };
}

function producerNumber(name: string, value: string): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    throw badRequest(`${name} must be a non-negative integer no larger than 2^53-1, got "${value}"`, "INVALID_HEADER");
  }
  return Number(trimmed);
}

export function parseStreamSeq(headers: IncomingHttpHeaders): string | null {
  const value = header(headers, HEADER.streamSeq);
  if (value === null) return null;
  if (value === "") throw badRequest("Stream-Seq must not be empty", "INVALID_HEADER");
  return value;
}

/**
 * Fork headers. `resolvePath` maps the Stream-Forked-From value (a path under
 * the stream base, or a full URL) to a stream key.
 */
export function parseFork(
  headers: IncomingHttpHeaders,
  resolvePath: (value: string) => string | null,
): ForkRequest | null {
  const from = header(headers, HEADER.streamForkedFrom);
  const offset = header(headers, HEADER.streamForkOffset);
  const sub = header(headers, HEADER.streamForkSubOffset);
  if (from === null) {
    if (offset !== null || sub !== null) {
      throw badRequest("Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From", "INVALID_HEADER");
    }
    return null;
  }
  const source = resolvePath(from.trim());
  if (source === null) throw badRequest(`Stream-Forked-From does not name a stream: ${from}`, "INVALID_HEADER");
  let position: number | null = null;
  if (offset !== null) {
    const parsed = parseOffset(offset.trim());
    if (parsed === undefined) throw badRequest(`Stream-Fork-Offset is not a valid offset: ${offset}`, "INVALID_OFFSET");
    position = parsed;
  }
  let subOffset = 0;
  if (sub !== null) {
    if (!DECIMAL.test(sub.trim()) || !Number.isSafeInteger(Number(sub.trim()))) {
      throw badRequest(`Stream-Fork-Sub-Offset must be a non-negative integer, got "${sub}"`, "INVALID_HEADER");
    }
    subOffset = Number(sub.trim());
  }
  return { source, position, subOffset };
}

/** The engine's ReadStart: the one entry point of a read (Engine.openRead) takes it as parsed. */
export type RequestedOffset = ReadStart;

/** The `offset` query parameter; absent means the beginning. */
export function parseOffsetParam(query: URLSearchParams): { offset: RequestedOffset; given: boolean } {
  const values = query.getAll(QUERY.offset);
  if (values.length === 0) return { offset: { kind: "beginning" }, given: false };
  if (values.length > 1) throw badRequest("offset must be given at most once", "INVALID_OFFSET");
  const value = values[0]!;
  if (value === OFFSET_BEGINNING) return { offset: { kind: "beginning" }, given: true };
  if (value === OFFSET_NOW) return { offset: { kind: "now" }, given: true };
  const position = parseOffset(value);
  if (position === undefined) throw badRequest(`invalid offset: "${value}"`, "INVALID_OFFSET");
  return { offset: { kind: "position", position }, given: true };
}

export type LiveParam = "none" | "long-poll" | "sse";

export function parseLive(query: URLSearchParams): LiveParam {
  const values = query.getAll(QUERY.live);
  if (values.length === 0) return "none";
  if (values.length > 1) throw badRequest("live must be given at most once");
  const value = values[0]!;
  if (value === LIVE_MODE.longPoll) return "long-poll";
  if (value === LIVE_MODE.sse) return "sse";
  if (value === "" || value === "false") return "none";
  throw badRequest(`live must be "long-poll" or "sse", got "${value}"`);
}
