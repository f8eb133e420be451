/** How many read-once keys are remembered before the set starts over. */
const READ_ONCE_KEYS = 16_384;

/**
 * Recently read large batches of the SQLite store, shared by every reader.
 *
 * A hundred readers catching up on the same stream read the same batches; each
 * read of a blob from SQLite walks its overflow pages and copies it into a new
 * Buffer, which then has to be collected. With this, one read serves them all
 * (the same bytes are handed to every response; nobody writes into them).
 *
 * What makes sharing safe: a stored batch never changes once a reader can see
 * it. A commit round may merge appends into a batch it wrote itself, before
 * anyone can read it; compaction and retention replace or drop batches, but a
 * replacement always has a different start or length, and both are part of the
 * key; stream ids are never reused (AUTOINCREMENT), so a stream made anew under
 * a deleted one's name has other keys. A deleted stream's batches just age out.
 *
 * Only a batch read a second time is kept (a single reader going through a
 * long stream never reads a batch twice, and would only push out what others
 * share); the keys read once are remembered in a bounded set. Two generations
 * approximate LRU in O(1): hits are promoted into the current one; when it
 * holds half the budget, the older one is dropped.
 */
export class SqliteBatchCache {
  private current = new Map<string, Uint8Array>();
  private previous = new Map<string, Uint8Array>();
  private currentBytes = 0;
  /** Keys read once and not kept (yet). */
  private readOnce = new Set<string>();

  constructor(private readonly maxBytes: number) {}

  get(streamId: number, start: number, length: number): Uint8Array | undefined {
    const key = this.key(streamId, start, length);
    const hit = this.current.get(key);
    if (hit !== undefined) return hit;
    const older = this.previous.get(key);
    if (older !== undefined) {
      this.previous.delete(key);
      this.put(streamId, start, older);
    }
    return older;
  }

  /** A batch just read from SQLite: kept if it was read before (by this or another reader). */
  offer(streamId: number, start: number, bytes: Uint8Array): void {
    const key = this.key(streamId, start, bytes.length);
    if (this.readOnce.delete(key)) {
      this.put(streamId, start, bytes);
      return;
    }
    if (this.readOnce.size >= READ_ONCE_KEYS) this.readOnce.clear();
    this.readOnce.add(key);
  }

  private put(streamId: number, start: number, bytes: Uint8Array): void {
    if (this.maxBytes <= 0 || bytes.length > this.maxBytes / 2) return;
    if (this.currentBytes + bytes.length > this.maxBytes / 2) {
      this.previous = this.current;
      this.current = new Map();
      this.currentBytes = 0;
    }
    this.current.set(this.key(streamId, start, bytes.length), bytes);
    this.currentBytes += bytes.length;
  }

  private key(streamId: number, start: number, length: number): string {
    return `${streamId}:${start}:${length}`;
  }
}
