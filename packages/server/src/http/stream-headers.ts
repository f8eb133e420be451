import { formatOffset, HEADER } from "@rill/protocol";
import type { StreamState } from "../engine/model.js";
import type { Headers } from "./respond.js";

/** Metadata headers shared by HEAD, PUT and POST responses. */
export function metadataHeaders(stream: StreamState): Headers {
  const headers: Headers = {
    [HEADER.contentType]: stream.contentType,
    [HEADER.streamNextOffset]: formatOffset(stream.tail),
  };
  if (stream.closed) headers[HEADER.streamClosed] = "true";
  return headers;
}

/** HEAD adds the expiry configuration. Stream-TTL is the configured window, not the time left. */
export function headHeaders(stream: StreamState): Headers {
  const headers = metadataHeaders(stream);
  if (stream.ttlSeconds !== null) headers[HEADER.streamTtl] = String(stream.ttlSeconds);
  if (stream.expiresAt !== null) headers[HEADER.streamExpiresAt] = new Date(stream.expiresAt).toISOString();
  headers[HEADER.cacheControl] = "no-store";
  return headers;
}
