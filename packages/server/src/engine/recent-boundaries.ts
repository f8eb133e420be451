import type { StreamState } from "../domain/model.js";

/** One stream's recent boundaries: a small ring, newest overwriting oldest. */
interface Known {
  createdAt: number;
  positions: number[];
  next: number;
}

/**
 * Positions known to be message boundaries of recently written streams: the
 * tails their appends left, and offsets the offset rule found to be
 * boundaries. A live reader comes back with the offset its last answer gave
 * it, which is usually the tail of a commit or two ago; when it is one of
 * these, the offset rule (StreamReads.startOf) needs no look at the stored
 * batch holding it. In a herd of long-poll readers that look was a store
 * query per request.
 *
 * A boundary stays one for the life of a stream: appends add after the tail,
 * compaction keeps each kept message where it was and the positions it
 * empties are boundaries too, and offsets below the retained head are refused
 * before the rule applies. Only another stream at the same path has other
 * boundaries, so entries hold the creation time of the stream they belong to
 * and are dropped when a stream goes (`forget`).
 */
export class RecentBoundaries {
  private readonly streams = new Map<string, Known>();

  constructor(
    /** Streams remembered at most; the ones noted first go first. */
    private readonly maxStreams = 4096,
    /** Boundaries remembered per stream. */
    private readonly perStream = 8,
  ) {}

  /** `position` is a message boundary of `stream`. */
  note(stream: StreamState, position: number): void {
    let known = this.streams.get(stream.path);
    if (known === undefined || known.createdAt !== stream.createdAt) {
      if (known !== undefined) this.streams.delete(stream.path);
      else if (this.streams.size >= this.maxStreams) this.streams.delete(this.streams.keys().next().value!);
      known = { createdAt: stream.createdAt, positions: [], next: 0 };
      this.streams.set(stream.path, known);
    }
    if (known.positions.includes(position)) return;
    known.positions[known.next] = position;
    known.next = (known.next + 1) % this.perStream;
  }

  /** Whether `position` is known to be a boundary of this very stream. */
  has(stream: StreamState, position: number): boolean {
    const known = this.streams.get(stream.path);
    return known !== undefined && known.createdAt === stream.createdAt && known.positions.includes(position);
  }

  /** The stream at `path` went away: what was known of it is of no other stream. */
  forget(path: string): void {
    this.streams.delete(path);
  }
}
