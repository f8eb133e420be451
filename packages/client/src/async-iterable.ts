/**
 * ReadableStream is async-iterable in Node and recent browsers, not in every
 * Safari. This adds `[Symbol.asyncIterator]` to one stream instance when it
 * is missing (no global patching), keeping `instanceof ReadableStream`.
 */
import type { ReadableStreamAsyncIterable } from "./types.js";

export function asAsyncIterableReadableStream<T>(stream: ReadableStream<T>): ReadableStreamAsyncIterable<T> {
  const candidate = stream as ReadableStream<T> & { [Symbol.asyncIterator]?: unknown };
  if (typeof candidate[Symbol.asyncIterator] !== "function") {
    Object.defineProperty(stream, Symbol.asyncIterator, {
      configurable: true,
      writable: true,
      value(this: ReadableStream<T>) {
        return iterate(this);
      },
    });
  }
  return stream as ReadableStreamAsyncIterable<T>;
}

function iterate<T>(stream: ReadableStream<T>): AsyncIterableIterator<T> {
  const reader = stream.getReader();
  let finished = false;
  const finish = () => {
    finished = true;
    reader.releaseLock();
  };
  return {
    async next(): Promise<IteratorResult<T>> {
      if (finished) return { done: true, value: undefined };
      try {
        const result = await reader.read();
        if (result.done) finish();
        return result.done ? { done: true, value: undefined } : { done: false, value: result.value };
      } catch (error) {
        finish();
        throw error;
      }
    },
    async return(value?: unknown): Promise<IteratorResult<T>> {
      // Leaving a for-await loop early cancels the stream, as the native iterator does.
      if (!finished) {
        const cancelled = reader.cancel(value);
        finish();
        await cancelled;
      }
      return { done: true, value: value as T };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
