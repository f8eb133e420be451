import { EXPOSED_HEADERS, HEADER } from "@rill/protocol";
import type { ServerResponse } from "node:http";
import { ProtocolError } from "../engine/errors.js";
import { log } from "../logging/logger.js";

export type Headers = Record<string, string | number>;

const ALLOWED_REQUEST_HEADERS = [
  HEADER.contentType,
  HEADER.ifNoneMatch,
  HEADER.streamSeq,
  HEADER.streamTtl,
  HEADER.streamExpiresAt,
  HEADER.streamClosed,
  HEADER.streamForkedFrom,
  HEADER.streamForkOffset,
  HEADER.streamForkSubOffset,
  HEADER.producerId,
  HEADER.producerEpoch,
  HEADER.producerSeq,
  "authorization",
  "last-event-id",
  "x-request-id",
].join(", ");

/**
 * Headers on every response: browsers may call Rill from any origin (CORS),
 * must not sniff content types, and may embed responses cross-origin.
 */
const COMMON_HEADERS: Headers = Object.freeze({
  "access-control-allow-origin": "*",
  "access-control-expose-headers": [...EXPOSED_HEADERS, "x-request-id"].join(", "),
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "cross-origin",
});

export const PREFLIGHT_HEADERS: Headers = Object.freeze({
  "access-control-allow-methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
  "access-control-allow-headers": ALLOWED_REQUEST_HEADERS,
  "access-control-max-age": "86400",
});

export function send(res: ServerResponse, status: number, headers: Headers, body?: Uint8Array | string): void {
  if (res.headersSent || res.destroyed) return;
  const all: Headers = { ...COMMON_HEADERS, ...headers };
  if (body !== undefined && status !== 204 && status !== 304) {
    all["content-length"] = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    res.writeHead(status, all);
    res.end(body);
  } else {
    // An explicit zero length keeps empty responses from being sent chunked;
    // a 204 has no content, so it names no content type either.
    if (status === 204) delete all["content-type"];
    else if (status !== 304) all["content-length"] = 0;
    res.writeHead(status, all);
    res.end();
  }
}

/**
 * Starts a streamed response (SSE): headers now, body later, no length.
 * The body is delimited by closing the connection rather than by chunked
 * encoding: an SSE response only ends when the connection does anyway, and
 * each write is then the shared frame itself — one socket write per reader,
 * with no per-reader chunk framing.
 */
export function startStream(res: ServerResponse, status: number, headers: Headers): void {
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(status, { ...COMMON_HEADERS, ...headers });
  res.flushHeaders();
}

/** Renders any failure. Protocol errors keep their status; anything else is a 500 that names no internals. */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const protocolError =
    error instanceof ProtocolError ? error : new ProtocolError(500, "INTERNAL", "internal server error");
  if (!(error instanceof ProtocolError)) log().error({ event: "request_failed", err: error }, "a request failed");
  const { code, message, details } = protocolError;
  const body = JSON.stringify({ error: { code, message, ...details } });
  send(
    res,
    protocolError.status,
    { ...protocolError.headers, "content-type": "application/json", "cache-control": "no-store" },
    body,
  );
}
