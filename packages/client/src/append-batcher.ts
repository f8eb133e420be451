/**
 * Coalesces DurableStream.append() calls: while one POST is in flight, the
 * appends that arrive queue up and leave together in the next POST. Order
 * is the call order, always: each queued entry is prepared (its body
 * awaited, encoded) in turn by the single drain loop.
 */

export interface QueuedAppend<T> {
  /** Resolves to the prepared message, or rejects to fail only this append. */
  prepare: () => Promise<T>;
  /** Appends only share a POST when their keys are equal. */
  key: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class AppendBatcher<T> {
  readonly #send: (items: T[]) => Promise<void>;
  #queue: Array<QueuedAppend<T>> = [];
  #draining: Promise<void> | null = null;

  constructor(send: (items: T[]) => Promise<void>) {
    this.#send = send;
  }

  add(prepare: () => Promise<T>, key: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ prepare, key, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  /** Resolves once everything queued so far has been sent (or has failed). */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /**
   * Runs until the queue is empty. The "draining" mark is cleared in the same
   * synchronous step that sees the queue empty, so an append arriving right
   * after always either joins this loop or starts a new one.
   */
  async #drain(): Promise<void> {
    // Yield once so appends issued in the same tick share the first POST.
    await Promise.resolve();
    for (;;) {
      if (this.#queue.length === 0) {
        this.#draining = null;
        return;
      }
      const key = this.#queue[0]!.key;
      let run = 0;
      while (run < this.#queue.length && this.#queue[run]!.key === key) run++;
      const taken = this.#queue.splice(0, run);
      const ready: Array<QueuedAppend<T>> = [];
      const items: T[] = [];
      for (const entry of taken) {
        try {
          items.push(await entry.prepare());
          ready.push(entry);
        } catch (error) {
          entry.reject(error);
        }
      }
      if (items.length === 0) continue;
      try {
        await this.#send(items);
        for (const entry of ready) entry.resolve();
      } catch (error) {
        for (const entry of ready) entry.reject(error);
      }
    }
  }
}
