/**
 * Every header and query-parameter name the protocol uses, in one place.
 * Header names are lower-case: Node lower-cases incoming headers and fetch's
 * Headers object is case-insensitive, so one spelling serves both sides.
 */
export const HEADER = {
  contentType: "content-type",
  location: "location",
  etag: "etag",
  ifNoneMatch: "if-none-match",
  cacheControl: "cache-control",
  retryAfter: "retry-after",

  streamNextOffset: "stream-next-offset",
  streamUpToDate: "stream-up-to-date",
  streamCursor: "stream-cursor",
  streamSeq: "stream-seq",
  streamTtl: "stream-ttl",
  streamExpiresAt: "stream-expires-at",
  streamClosed: "stream-closed",
  streamSseDataEncoding: "stream-sse-data-encoding",

  streamForkedFrom: "stream-forked-from",
  streamForkOffset: "stream-fork-offset",
  streamForkSubOffset: "stream-fork-sub-offset",

  producerId: "producer-id",
  producerEpoch: "producer-epoch",
  producerSeq: "producer-seq",
  producerExpectedSeq: "producer-expected-seq",
  producerReceivedSeq: "producer-received-seq",

  // Rill extensions: retention and key compaction (docs/retention.md).
  rillRetentionAge: "rill-retention-age",
  rillRetentionBytes: "rill-retention-bytes",
  rillEarliestOffset: "rill-earliest-offset",
  rillCompaction: "rill-compaction",
  rillCompactionKey: "rill-compaction-key",
  rillCompactionTombstoneAge: "rill-compaction-tombstone-age",
  rillBytesAppended: "rill-bytes-appended",
  rillBytesStored: "rill-bytes-stored",
} as const;

export const QUERY = {
  offset: "offset",
  live: "live",
  cursor: "cursor",
} as const;

/** Values of the `live` query parameter. */
export const LIVE_MODE = {
  longPoll: "long-poll",
  sse: "sse",
} as const;

/** SSE event names. */
export const SSE_EVENT = {
  data: "data",
  control: "control",
} as const;

/** Headers a browser script must be allowed to read from a response. */
export const EXPOSED_HEADERS: readonly string[] = [
  HEADER.streamNextOffset,
  HEADER.streamUpToDate,
  HEADER.streamCursor,
  HEADER.streamClosed,
  HEADER.streamTtl,
  HEADER.streamExpiresAt,
  HEADER.streamSseDataEncoding,
  HEADER.producerEpoch,
  HEADER.producerSeq,
  HEADER.producerExpectedSeq,
  HEADER.producerReceivedSeq,
  HEADER.etag,
  HEADER.location,
  HEADER.contentType,
  HEADER.retryAfter,
  HEADER.rillRetentionAge,
  HEADER.rillRetentionBytes,
  HEADER.rillEarliestOffset,
  HEADER.rillCompaction,
  HEADER.rillCompactionKey,
  HEADER.rillCompactionTombstoneAge,
  HEADER.rillBytesAppended,
  HEADER.rillBytesStored,
];

/** Reserved path segment for server control APIs; never an application stream. */
export const CONTROL_PREFIX = "__ds";
