/**
 * Rill's stream listing extension (not part of the Durable Streams protocol):
 * `GET <base>/__ds/streams?prefix=&after=&limit=`, see docs/listing.md. The
 * server answers it; the rill command (`rill ls`) and the web console read it.
 */

/** One listed stream. */
export interface ListedStream {
  path: string;
  contentType: string;
  nextOffset: string;
  bytes: number;
  closed: boolean;
  ttlSeconds: number | null;
  expiresAt: string | null;
  createdAt: string;
  forkedFrom: string | null;
  /** Where the retained data begins (reads below it answer 410). */
  earliestOffset: string;
  /** The stream's own bytes as appended, and as stored now (after retention and compaction). */
  appendedBytes: number;
  storedBytes: number;
}

/** One page of the listing; `next` is the `after` value of the following page, or null on the last. */
export interface ListedStreamPage {
  streams: ListedStream[];
  next: string | null;
}

/**
 * A stream name as it goes into a URL path: characters a path may carry stay
 * as they are (including `/`, so names can be hierarchical, and `%`, so a
 * name already encoded is not encoded twice); everything else is
 * percent-encoded. The server keys streams by the path exactly as sent, so
 * every tool must spell a name the same way.
 */
export function encodeStreamName(name: string): string {
  return name.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@%/]/g, (char) => encodeURIComponent(char));
}
