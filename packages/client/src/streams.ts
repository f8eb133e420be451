/** Adapters between async iterables and ReadableStreams. */
import { utf8 } from "./body.js";

/** Bytes for a request body from strings or bytes, from either kind of source. */
export function toReadableBytes(
  source: ReadableStream<Uint8Array | string> | AsyncIterable<Uint8Array | string>,
): ReadableStream<Uint8Array> {
  const iterator = isReadableStream(source) ? iterateReadable(source) : source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) {
        controller.close();
        return;
      }
      controller.enqueue(typeof next.value === "string" ? utf8(next.value) : next.value);
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  });
}

function isReadableStream<T>(value: unknown): value is ReadableStream<T> {
  return typeof ReadableStream !== "undefined" && value instanceof ReadableStream;
}

async function* iterateReadable<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
