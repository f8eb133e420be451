import { formatOffset, HEADER } from "@rill/protocol";
import { storedBytes, type StreamState } from "../domain/model.js";
import { effectiveRetention, type RetentionDefaults } from "../domain/retention-rules.js";
import { cacheControl } from "./cache-policy.js";
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

/**
 * HEAD adds the expiry configuration (Stream-TTL is the configured window,
 * not the time left), the retention policy in force (the stream's own or the
 * server's default for its path), compaction, where retained data begins,
 * and the stream's own bytes as appended and as stored now.
 */
export function headHeaders(stream: StreamState, defaults: RetentionDefaults): Headers {
  const headers = metadataHeaders(stream);
  if (stream.ttlSeconds !== null) headers[HEADER.streamTtl] = String(stream.ttlSeconds);
  if (stream.expiresAt !== null) headers[HEADER.streamExpiresAt] = new Date(stream.expiresAt).toISOString();
  const retention = effectiveRetention(stream, defaults);
  if (retention?.maxAgeSeconds != null) headers[HEADER.rillRetentionAge] = String(retention.maxAgeSeconds);
  if (retention?.maxBytes != null) headers[HEADER.rillRetentionBytes] = String(retention.maxBytes);
  if (stream.compaction) {
    headers[HEADER.rillCompaction] = "key";
    headers[HEADER.rillCompactionKey] = stream.compaction.keyPointers.join(",");
    headers[HEADER.rillCompactionTombstoneAge] = String(stream.compaction.tombstoneAgeSeconds);
  }
  headers[HEADER.rillEarliestOffset] = formatOffset(stream.earliest);
  headers[HEADER.rillBytesAppended] = String(stream.tail - stream.forkOffset);
  headers[HEADER.rillBytesStored] = String(storedBytes(stream));
  headers[HEADER.cacheControl] = cacheControl("metadata");
  return headers;
}
