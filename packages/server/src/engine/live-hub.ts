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

export type LiveListener = (event: LiveEvent) => void;

export class LiveHub {
  private readonly listeners = new Map<string, Set<LiveListener>>();

  subscribe(path: string, listener: LiveListener): () => void {
    let set = this.listeners.get(path);
    if (!set) this.listeners.set(path, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.listeners.get(path);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(path);
    };
  }

  publish(fields: Omit<LiveEvent, "memo">): void {
    const set = this.listeners.get(fields.path);
    if (!set || set.size === 0) return;
    const cache = new Map<string, unknown>();
    const event: LiveEvent = {
      ...fields,
      memo<T>(key: string, compute: () => T): T {
        if (cache.has(key)) return cache.get(key) as T;
        const value = compute();
        cache.set(key, value);
        return value;
      },
    };
    // Copy first: a listener may unsubscribe (or subscribe) while we iterate.
    for (const listener of [...set]) listener(event);
  }

  /** Number of live readers of one stream. */
  readersOf(path: string): number {
    return this.listeners.get(path)?.size ?? 0;
  }

  /** True when the path has at least one live reader. */
  isWatched(path: string): boolean {
    return this.listeners.has(path);
  }

  /** Paths that have at least one live reader. */
  watchedPaths(): string[] {
    return [...this.listeners.keys()];
  }
}
