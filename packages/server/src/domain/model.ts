/** The durable state of one stream, as every store persists it. */
export interface StreamState {
  path: string;
  /** Content type exactly as given at creation. */
  contentType: string;
  /** Sliding time-to-live in seconds; null when none. */
  ttlSeconds: number | null;
  /** Absolute expiry (ms since epoch); null when none. */
  expiresAt: number | null;
  createdAt: number;
  /** Last read or write (ms); the sliding TTL counts from here. */
  lastAccessAt: number;
  /** Byte position after the last stored byte. */
  tail: number;
  closed: boolean;
  /** Last accepted `Stream-Seq` value, for writer-sequence checks. */
  lastStreamSeq: string | null;
  /** Source stream path when this stream is a fork. */
  forkedFrom: string | null;
  /** Position at which this stream's own data starts (its fork point; 0 otherwise). */
  forkOffset: number;
  /** Number of live forks that read through this stream. */
  forkCount: number;
  /** Deleted by a user, but kept because forks still read through it. */
  softDeleted: boolean;
  /** The producer request that closed the stream, so a retried close is a duplicate, not a conflict. */
  closedBy: ProducerRef | null;
  /** Retention set at creation (`Rill-Retention-*`); null: the server's defaults for the path apply. */
  retention: RetentionPolicy | null;
  /** Key compaction set at creation (`Rill-Compaction: key`); null when the stream is not compacted. */
  compaction: CompactionPolicy | null;
  /**
   * Earliest retained position: reads below it answer 410. Starts at 0 (a
   * fork: its source's earliest when it was made) and only moves forward.
   */
  earliest: number;
  /** Bytes of this stream's own data removed by retention and compaction. */
  removedBytes: number;
}

/** How long and how much a stream keeps; null in a field means no limit of that kind. */
export interface RetentionPolicy {
  maxAgeSeconds: number | null;
  maxBytes: number | null;
}

export interface CompactionPolicy {
  /** JSON Pointers whose values, together, are a message's key (State Protocol: `/type`, `/key`). */
  keyPointers: string[];
  /** How long a delete (tombstone) is kept once compaction could remove it. */
  tombstoneAgeSeconds: number;
}

/** Bytes of its own data the stream still stores. */
export function storedBytes(stream: StreamState): number {
  return stream.tail - stream.forkOffset - stream.removedBytes;
}

export interface ProducerRef {
  id: string;
  epoch: number;
  seq: number;
}

/** What the server remembers per (stream, producer id). */
export interface ProducerState {
  epoch: number;
  lastSeq: number;
}

/** True when the stream's TTL or absolute expiry has passed at `now`. */
export function isExpired(stream: StreamState, now: number): boolean {
  if (stream.expiresAt !== null && now >= stream.expiresAt) return true;
  if (stream.ttlSeconds !== null && now >= stream.lastAccessAt + stream.ttlSeconds * 1000) return true;
  return false;
}

/** The moment the stream expires if nothing touches it (ms), or null. */
export function expiryTime(stream: StreamState): number | null {
  const sliding = stream.ttlSeconds === null ? null : stream.lastAccessAt + stream.ttlSeconds * 1000;
  if (sliding === null) return stream.expiresAt;
  if (stream.expiresAt === null) return sliding;
  return Math.min(sliding, stream.expiresAt);
}

/** One stored batch: the stream's bytes from `start` to `start + bytes.length`. */
export interface StoredBatch {
  start: number;
  bytes: Uint8Array;
}

/** A stored batch with the time it was committed (ms), as retention and compaction see it. */
export interface TimedBatch extends StoredBatch {
  appendedAt: number;
}
