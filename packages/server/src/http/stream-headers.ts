import { formatOffset, HEADER } from "@rill/protocol";
import type { StreamState } from "../engine/model.js";
import type { Headers } from "./respond.js";

/** Where the stream ends and whether it is closed: what an append's response reports. */
export function tailHeaders(stream: StreamState): Headers {
  const headers: Headers = { [HEADER.streamNextOffset]: formatOffset(stream.tail) };
  if (stream.closed) headers[HEADER.streamClosed] = "true";
  return headers;
}

/** The stream's description, for PUT and HEAD: its content type and its tail. */
export function metadataHeaders(stream: StreamState): Headers {
  return { [HEADER.contentType]: stream.contentType, ...tailHeaders(stream) };
}

/** HEAD adds the expiry configuration. Stream-TTL is the configured window, not the time left. */
export function headHeaders(stream: StreamState): Headers {
  const headers = metadataHeaders(stream);
  if (stream.ttlSeconds !== null) headers[HEADER.streamTtl] = String(stream.ttlSeconds);
  if (stream.expiresAt !== null) headers[HEADER.streamExpiresAt] = new Date(stream.expiresAt).toISOString();
  headers[HEADER.cacheControl] = "no-store";
  return headers;
}
