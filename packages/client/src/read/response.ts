/**
 * StreamResponse: the consumption layer over a ReadSession. Exactly one
 * consumption method may be used. Position properties (offset, cursor,
 * upToDate, streamClosed) move when a batch is handed to the consumer, not
 * when it is fetched, so `offset` is always a safe checkpoint.
 */
import { DurableStreamError, isAbortError } from "../errors.js";
import { asAsyncIterableReadableStream } from "../async-iterable.js";
import type {
  ByteChunk,
  JsonBatch,
  LiveMode,
  Offset,
  ReadableStreamAsyncIterable,
  StreamResponse,
  TextChunk,
} from "../types.js";
import { Payload, type Batch } from "./batch.js";
import type { ReadState } from "./machine.js";
import type { ReadSession } from "./session.js";

export interface ResponseInit {
  url: string;
  live: LiveMode;
  startOffset: Offset;
  session: ReadSession;
  controller: AbortController;
  /** Called once when the session is over (however it ended). */
  dispose: () => void;
}

export class StreamResponseImpl<TJson = unknown> implements StreamResponse<TJson> {
  readonly url: string;
  readonly live: LiveMode;
  readonly startOffset: Offset;
  readonly closed: Promise<void>;
  readonly isLoading = false;

  readonly #session: ReadSession;
  readonly #controller: AbortController;
  readonly #dispose: () => void;
  #position: ReadState;
  #consumer: string | null = null;
  #settled = false;
  #resolveClosed!: () => void;
  #rejectClosed!: (error: unknown) => void;

  constructor(init: ResponseInit) {
    this.url = init.url;
    this.live = init.live;
    this.startOffset = init.startOffset;
    this.#session = init.session;
    this.#controller = init.controller;
    this.#dispose = init.dispose;
    this.#position = { offset: init.startOffset, upToDate: false, streamClosed: false };
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // A terminal error also rejects the consumption method; an unobserved
    // `closed` must not become an unhandled rejection.
    this.closed.catch(() => undefined);
  }

  get contentType(): string | undefined {
    return this.#session.contentType;
  }
  get headers(): Headers {
    return this.#session.lastResponse.headers;
  }
  get status(): number {
    return this.#session.lastResponse.status;
  }
  get statusText(): string {
    return this.#session.lastResponse.statusText;
  }
  get ok(): boolean {
    return this.#session.lastResponse.ok;
  }
  get offset(): Offset {
    return this.#position.offset;
  }
  get cursor(): string | undefined {
    return this.#position.cursor;
  }
  get upToDate(): boolean {
    return this.#position.upToDate;
  }
  get streamClosed(): boolean {
    return this.#position.streamClosed;
  }

  // ---- promise helpers: read until caught up ----

  async body(): Promise<Uint8Array> {
    return (await this.#accumulate("body")).bytes();
  }

  async json<T = TJson>(): Promise<Array<T>> {
    this.#requireJson("json");
    return (await this.#accumulate("json")).items() as T[];
  }

  async text(): Promise<string> {
    return (await this.#accumulate("text")).text();
  }

  // ---- ReadableStreams ----

  bodyStream(): ReadableStreamAsyncIterable<Uint8Array> {
    this.#claim("bodyStream");
    return this.#readable<Uint8Array>((batch, enqueue) => {
      if (batch.payload.hasContent(this.#session.jsonMode)) enqueue(batch.payload.bytes());
    });
  }

  jsonStream(): ReadableStreamAsyncIterable<TJson> {
    this.#requireJson("jsonStream");
    this.#claim("jsonStream");
    return this.#readable<TJson>((batch, enqueue) => {
      for (const item of batch.payload.items()) enqueue(item as TJson);
    });
  }

  textStream(): ReadableStreamAsyncIterable<string> {
    this.#claim("textStream");
    const decoder = new TextDecoder();
    return this.#readable<string>((batch, enqueue) => {
      const text = decoder.decode(batch.payload.bytes(), { stream: true });
      if (text.length > 0) enqueue(text);
    });
  }

  // ---- subscribers: the next fetch waits for the callback ----

  subscribeJson<T = TJson>(subscriber: (batch: JsonBatch<T>) => void | Promise<void>): () => void {
    this.#requireJson("subscribeJson");
    this.#claim("subscribeJson");
    return this.#subscribe((batch) => subscriber({ ...meta(batch), items: batch.payload.items() as T[] }));
  }

  subscribeBytes(subscriber: (chunk: ByteChunk) => void | Promise<void>): () => void {
    this.#claim("subscribeBytes");
    return this.#subscribe((batch) => subscriber({ ...meta(batch), data: batch.payload.bytes() }));
  }

  subscribeText(subscriber: (chunk: TextChunk) => void | Promise<void>): () => void {
    this.#claim("subscribeText");
    const decoder = new TextDecoder();
    return this.#subscribe((batch) => subscriber({ ...meta(batch), text: decoder.decode(batch.payload.bytes(), { stream: true }) }));
  }

  // ---- lifecycle ----

  cancel(reason?: unknown): void {
    if (this.#settled) return;
    this.#controller.abort(reason);
    this.#finish();
  }

  // ---- internals ----

  #claim(method: string): void {
    if (this.#consumer !== null) {
      throw new DurableStreamError(
        `Cannot call ${method}(): this response is already consumed by ${this.#consumer}()`,
        "ALREADY_CONSUMED",
      );
    }
    this.#consumer = method;
  }

  #requireJson(method: string): void {
    if (!this.#session.jsonMode) {
      throw new DurableStreamError(
        `${method}() needs a JSON stream; the content type is ${this.contentType ?? "unknown"} (pass json: true to force)`,
        "BAD_REQUEST",
      );
    }
  }

  /** The next batch for the consumer, or null at the end. */
  async #pull(): Promise<Batch | null> {
    let batch: Batch | null;
    try {
      batch = await this.#session.next();
    } catch (error) {
      if (this.#controller.signal.aborted && isAbortError(error)) {
        this.#finish();
        return null;
      }
      this.#fail(error);
      throw error;
    }
    if (batch === null) {
      this.#finish();
      return null;
    }
    this.#position = { offset: batch.offset, cursor: batch.cursor, upToDate: batch.upToDate, streamClosed: batch.streamClosed };
    return batch;
  }

  async #accumulate(method: string): Promise<Payload> {
    this.#claim(method);
    this.#session.stopAtUpToDate = true;
    const parts: Payload[] = [];
    for (;;) {
      const batch = await this.#pull();
      if (batch === null) {
        if (this.#controller.signal.aborted) {
          throw new DurableStreamError("Read cancelled before it caught up", "ABORTED", undefined, undefined, {
            cause: this.#controller.signal.reason,
          });
        }
        break;
      }
      parts.push(batch.payload);
      if (batch.upToDate) break;
    }
    this.#finish();
    return Payload.join(parts, this.#session.jsonMode);
  }

  #readable<T>(emit: (batch: Batch, enqueue: (value: T) => void) => void): ReadableStreamAsyncIterable<T> {
    const stream = new ReadableStream<T>(
      {
        pull: async (controller) => {
          // Keep pulling until something is enqueued or the read is over, so
          // a batch without content never leaves a reader waiting.
          for (;;) {
            const batch = await this.#pull();
            if (batch === null) {
              controller.close();
              return;
            }
            let enqueued = false;
            try {
              emit(batch, (value) => {
                enqueued = true;
                controller.enqueue(value);
              });
            } catch (error) {
              // e.g. a JSON batch that does not parse: the read is over.
              this.#controller.abort(error);
              this.#fail(error);
              throw error;
            }
            if (enqueued) return;
          }
        },
        cancel: (reason) => this.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return asAsyncIterableReadableStream(stream);
  }

  #subscribe(deliver: (batch: Batch) => void | Promise<void>): () => void {
    let active = true;
    const run = async () => {
      while (active) {
        const batch = await this.#pull();
        if (batch === null || !active) return;
        await deliver(batch);
      }
    };
    run().catch((error) => {
      // Session errors were already recorded by #pull; callback errors end the read here.
      if (!this.#settled) {
        this.#controller.abort(error);
        this.#fail(error);
      }
    });
    return () => {
      active = false;
      this.cancel("unsubscribed");
    };
  }

  #finish(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#session.close();
    this.#dispose();
    this.#resolveClosed();
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#session.close();
    this.#dispose();
    this.#rejectClosed(error);
  }
}

function meta(batch: Batch): ReadState {
  const out: ReadState = { offset: batch.offset, upToDate: batch.upToDate, streamClosed: batch.streamClosed };
  if (batch.cursor !== undefined) out.cursor = batch.cursor;
  return out;
}
