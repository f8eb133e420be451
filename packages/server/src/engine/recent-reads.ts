import type { StreamState } from "../domain/model.js";
import type { ReadResult } from "./stream-reads.js";

/** Reads larger than this are not kept: a herd's reads are a few messages each. */
const MAX_KEPT_READ = 256 * 1024;

/**
 * Recent bounded reads, so that readers asking for the same range share one,
 * whether it is still running or done. A herd of long-poll readers answered
 * at one tail comes back with that offset, each asking the store for the
 * same few messages since; the first read is kept and the others take it.
 *
 * What a read from `from` returns is fixed by the stream it reads and that
 * stream's state: the same stream (path and creation time), the same tail,
 * the same retained head and the same bytes removed by compaction (which
 * removes messages only by removing their bytes) give the same outcome. The
 * key holds exactly those, so a kept outcome is never another state's. An
 * outcome is shared as it is: readers of one must not change it (none does:
 * a response copies the bytes into its own body). A read that fails is not
 * kept.
 */
export class RecentReads {
  private readonly reads = new Map<string, { outcome: Promise<ReadResult>; bytes: number }>();
  private bytes = 0;

  constructor(
    /** Bytes kept at most, all outcomes together; the oldest go first. */
    private readonly maxBytes = 8 * 1024 * 1024,
    private readonly maxReads = 256,
  ) {}

  /** The read of `stream` from `from`: a kept one, or `run()`'s, kept for the next readers. */
  read(stream: StreamState, from: number, run: () => Promise<ReadResult>): Promise<ReadResult> {
    const key = `${stream.path}\n${stream.createdAt} ${from} ${stream.tail} ${stream.earliest} ${stream.removedBytes}`;
    const kept = this.reads.get(key);
    if (kept !== undefined) return kept.outcome;
    const entry = { outcome: run(), bytes: 0 };
    this.reads.set(key, entry);
    entry.outcome.then(
      (outcome) => {
        if (this.reads.get(key) !== entry) return;
        if (outcome.data.length > MAX_KEPT_READ) {
          this.reads.delete(key);
          return;
        }
        entry.bytes = outcome.data.length;
        this.bytes += entry.bytes;
        this.trim();
      },
      () => {
        if (this.reads.get(key) === entry) this.reads.delete(key);
      },
    );
    this.trim();
    return entry.outcome;
  }

  private trim(): void {
    while (this.reads.size > this.maxReads || this.bytes > this.maxBytes) {
      const [oldest, entry] = this.reads.entries().next().value!;
      this.reads.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }
}
