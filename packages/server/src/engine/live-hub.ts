import { log } from "../logging/logger.js";

/**
 * Wakes live readers (long-poll waiters, SSE subscribers) when a stream
 * changes. One event is published per committed append; whatever a reader
 * derives from it (an SSE frame, a long-poll body) is computed once through
 * `memo` and shared by every reader of that stream.
 */
export interface LiveEvent {
  path: string;
  /** Position where the new bytes start. */
  start: number;
  /** New tail. */
  end: number;
  /** The committed bytes as stored (JSON streams: framed), when known. */
  data: Uint8Array | null;
  closed: boolean;
  /** The stream went away (deleted or expired). */
  gone: boolean;
  /** Computes a derived value once per event and key, then shares it. */
  memo<T>(key: string, compute: () => T): T;
}

/**
 * Takes one event. `more` counts the events the same reader is handed right
 * after this one, in the same turn (a reader the last turn did not reach):
 * a reader that writes to a socket can gather them into one write.
 */
export type LiveListener = (event: LiveEvent, more: number) => void;

/**
 * How long one turn of the event loop may spend handing events to readers
 * (ms). Past it, the rest of the readers are served on the next turn, so a
 * stream with thousands of readers cannot hold up the appends (and their
 * acknowledgements) that arrive meanwhile.
 */
const DELIVERY_BUDGET_MS = 4;
/** Readers served between two looks at the clock. */
const CLOCK_EVERY = 32;

/** One reader of a stream, and how many of the stream's queued events it has been handed. */
interface Reader {
  listener: LiveListener;
  seen: number;
  active: boolean;
}

/**
 * The readers of one stream and the events not yet handed to all of them.
 * Readers are served in subscription order; a reader that the previous turn
 * did not reach gets every event it missed in one go, so a slow pass over
 * many readers turns into fewer, larger writes instead of falling behind.
 */
class Channel {
  readers: Reader[] = [];
  /** Events published but not yet handed to every reader; `base` is the sequence number of queue[0]. */
  queue: LiveEvent[] = [];
  base = 0;
  /** Where the next pass resumes, and whether a turn is scheduled for it. */
  cursor = 0;
  scheduled = false;
  /** A pass is running: an event a listener publishes waits for it (the pass picks it up). */
  delivering = false;
}

export class LiveHub {
  private readonly channels = new Map<string, Channel>();

  subscribe(path: string, listener: LiveListener): () => void {
    let channel = this.channels.get(path);
    if (!channel) this.channels.set(path, (channel = new Channel()));
    // A new reader starts after the events already queued: it has read the store up to now.
    const reader: Reader = { listener, seen: channel.base + channel.queue.length, active: true };
    channel.readers.push(reader);
    return () => {
      if (!reader.active) return;
      reader.active = false;
      const current = this.channels.get(path);
      if (!current) return;
      const at = current.readers.indexOf(reader);
      if (at !== -1) {
        current.readers.splice(at, 1);
        if (at < current.cursor) current.cursor--;
      }
      if (current.readers.length === 0) this.channels.delete(path);
    };
  }

  publish(fields: Omit<LiveEvent, "memo">): void {
    const channel = this.channels.get(fields.path);
    if (!channel) return;
    const cache = new Map<string, unknown>();
    channel.queue.push({
      ...fields,
      memo<T>(key: string, compute: () => T): T {
        if (cache.has(key)) return cache.get(key) as T;
        const value = compute();
        cache.set(key, value);
        return value;
      },
    });
    if (!channel.scheduled && !channel.delivering) this.deliver(fields.path, channel);
  }

  /**
   * Hands queued events to readers from the channel's cursor on, until every
   * reader has all of them or the turn's budget is spent (then the next turn
   * goes on where this one stopped).
   */
  private deliver(path: string, channel: Channel): void {
    channel.scheduled = false;
    channel.delivering = true;
    try {
      this.pass(path, channel);
    } finally {
      channel.delivering = false;
    }
  }

  private pass(path: string, channel: Channel): void {
    const startedAt = performance.now();
    let served = 0;
    while (channel.queue.length > 0) {
      const end = channel.base + channel.queue.length;
      let behind = false;
      while (channel.cursor < channel.readers.length) {
        const reader = channel.readers[channel.cursor]!;
        channel.cursor++;
        while (reader.active && reader.seen < end) {
          const event = channel.queue[reader.seen - channel.base]!;
          reader.seen++;
          try {
            reader.listener(event, end - reader.seen);
          } catch (error) {
            // One reader's failure must not keep the event from the others.
            log().warn({ event: "live_listener_failed", path, err: error }, "a live reader failed to take an event");
          }
        }
        if (++served % CLOCK_EVERY === 0 && performance.now() - startedAt >= DELIVERY_BUDGET_MS) {
          behind = channel.cursor < channel.readers.length;
          break;
        }
      }
      if (behind) {
        channel.scheduled = true;
        setImmediate(() => {
          if (this.channels.get(path) === channel) this.deliver(path, channel);
        });
        return;
      }
      // One pass is done. Events published during it have not reached the readers served before they came.
      channel.cursor = 0;
      const newest = channel.base + channel.queue.length;
      if (channel.readers.every((reader) => reader.seen >= newest)) {
        channel.base = newest;
        channel.queue = [];
      }
    }
  }

  /** Number of live readers of one stream. */
  readersOf(path: string): number {
    return this.channels.get(path)?.readers.length ?? 0;
  }

  /** True when the path has at least one live reader. */
  isWatched(path: string): boolean {
    return this.channels.has(path);
  }

  /** Paths that have at least one live reader. */
  watchedPaths(): string[] {
    return [...this.channels.keys()];
  }
}
