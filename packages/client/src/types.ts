/**
 * Public types of @rill/client. The shapes follow the documented API of the
 * official Durable Streams client so code written against it type-checks here.
 */
import type { BackoffOptions } from "./fetch/backoff.js";
import type { DurableStreamErrorCode } from "./errors.js";

export type { BackoffOptions, DurableStreamErrorCode };

/**
 * A position in a stream. Opaque: always reuse what the server returned.
 * Two sentinels exist: `"-1"` (the beginning) and `"now"` (the current tail).
 */
export type Offset = string;

export type MaybePromise<T> = T | Promise<T>;

/** Header values may be fixed strings or functions evaluated before every request. */
export type HeadersRecord = {
  [name: string]: string | (() => MaybePromise<string>);
};

/** Query parameters, resolved like headers; `undefined` values are skipped. */
export type ParamsRecord = {
  [name: string]: string | (() => MaybePromise<string>) | undefined;
};

/**
 * How a read continues once it has caught up with the stream:
 * - `"auto"` / `true`: promise helpers stop; streams and subscribers keep
 *   following the stream with long-poll requests.
 * - `false`: stop at the first up-to-date response.
 * - `"long-poll"` / `"sse"`: follow live with that transport.
 */
export type LiveMode = "auto" | boolean | "long-poll" | "sse";

/** Returned from an `onError` handler to retry, optionally with new headers/params. */
export type RetryOpts = {
  headers?: HeadersRecord;
  params?: ParamsRecord;
};

/**
 * Called when a read fails with an error that automatic retries do not cover
 * (4xx responses, or 5xx/network errors once `backoffOptions.maxRetries` is
 * spent). Return an object (possibly `{}`) to retry; return nothing to stop.
 */
export type StreamErrorHandler = (error: Error) => void | RetryOpts | Promise<void | RetryOpts>;

export interface StreamOptions {
  url: string | URL;
  headers?: HeadersRecord;
  params?: ParamsRecord;
  signal?: AbortSignal;
  fetch?: typeof globalThis.fetch;
  backoffOptions?: Partial<BackoffOptions>;
  /** Where to start; defaults to `"-1"` (the beginning). */
  offset?: Offset;
  /** Defaults to `"auto"`. */
  live?: LiveMode;
  /** Treat the content as JSON even when the Content-Type does not say so. */
  json?: boolean;
  onError?: StreamErrorHandler;
  /**
   * What a read does when the server no longer keeps its offset (410 with an
   * earliest offset, from retention): `"error"` (the default) fails with a
   * RetainedOffsetError; `"skip-to-earliest"` accepts the gap and goes on
   * from the earliest retained offset.
   */
  onRetained?: "error" | "skip-to-earliest";
  /** When SSE connections keep dying young, switch to long-poll. */
  sseResilience?: SSEResilienceOptions;
  /** Warn (once per origin) about plain-http URLs in browsers. Default true. */
  warnOnHttp?: boolean;
}

/**
 * Some proxies buffer or cut SSE responses, so each connection ends almost at
 * once. Connections shorter than `minConnectionDuration` count as short;
 * after `maxShortConnections` of them in a row the read switches to
 * long-poll. Between short connections it waits a jittered, doubling delay
 * from `backoffBaseDelay` up to `backoffMaxDelay`.
 */
export interface SSEResilienceOptions {
  /** Default 1000 ms. */
  minConnectionDuration?: number;
  /** Default 3. */
  maxShortConnections?: number;
  /** Default 100 ms. */
  backoffBaseDelay?: number;
  /** Default 5000 ms. */
  backoffMaxDelay?: number;
  /** Log the switch to long-poll with console.warn. Default true. */
  logWarnings?: boolean;
}

/** Metadata every chunk and batch carries. */
export interface JsonBatchMeta {
  /** The offset right after this chunk: resume here. */
  offset: Offset;
  /** True when this chunk reaches the end of what the stream holds now. */
  upToDate: boolean;
  /** The server's cursor, echoed back on live requests. */
  cursor?: string;
  /** True when the stream is closed and nothing can follow this chunk. */
  streamClosed: boolean;
}

export interface JsonBatch<T = unknown> extends JsonBatchMeta {
  items: ReadonlyArray<T>;
}

export interface ByteChunk extends JsonBatchMeta {
  data: Uint8Array;
}

export interface TextChunk extends JsonBatchMeta {
  text: string;
}

/** Options shared by every DurableStream operation. */
export interface StreamHandleOptions {
  url: string | URL;
  headers?: HeadersRecord;
  params?: ParamsRecord;
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
  /** The stream's content type, when already known (saves a HEAD for producers). */
  contentType?: string;
  /** Used by `stream()` reads started from this handle. */
  onError?: StreamErrorHandler;
  backoffOptions?: Partial<BackoffOptions>;
  /** Coalesce `append()` calls made while a POST is in flight. Default true. */
  batching?: boolean;
  /** Warn (once per origin) about plain-http URLs in browsers. Default true. */
  warnOnHttp?: boolean;
}

export type DurableStreamOptions = StreamHandleOptions;
export type DurableStreamConstructorOptions = StreamHandleOptions;

export interface CreateOptions extends StreamHandleOptions {
  /** Relative time to live, in seconds. */
  ttlSeconds?: number;
  /** Absolute expiry (RFC 3339). */
  expiresAt?: string;
  /**
   * Initial content. Strings and bytes are sent as they are; for JSON streams
   * any other value is serialized (an array appends each element).
   */
  body?: BodyInit | Uint8Array | string | unknown;
  /** Create the stream already closed; `body` becomes its whole content. */
  closed?: boolean;
}

export interface AppendOptions {
  /** Writer coordination token sent as Stream-Seq; must increase bytewise. */
  seq?: string;
  /** Must match the stream's content type. */
  contentType?: string;
  signal?: AbortSignal;
  /** Low-level producer headers (prefer IdempotentProducer). */
  producerId?: string;
  producerEpoch?: number;
  producerSeq?: number;
}

export interface CloseOptions {
  /**
   * A final message appended atomically with the close. For JSON streams a
   * string is JSON text; other values are serialized.
   */
  body?: Uint8Array | string | unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface CloseResult {
  /** The offset right after the last byte of the closed stream. */
  finalOffset: Offset;
}

export interface HeadResultExists {
  exists: true;
  contentType?: string;
  /** The tail offset. */
  offset?: Offset;
  etag?: string;
  cacheControl?: string;
  streamClosed: boolean;
  ttlSeconds?: number;
  expiresAt?: string;
}

export interface HeadResultNotFound {
  exists: false;
}

export type HeadResult = HeadResultExists | HeadResultNotFound;

export interface IdempotentProducerOptions {
  /** Starting epoch (default 0). */
  epoch?: number;
  /** On a stale-epoch 403, take over with a higher epoch and resend. Default false. */
  autoClaim?: boolean;
  /**
   * close() without a final message on a stream someone else already closed:
   * resolve with the stream's final offset instead of rejecting with
   * StreamClosedError (409 STREAM_CLOSED, as the official client reports it).
   * Default false.
   */
  acceptAlreadyClosed?: boolean;
  /** Seal a batch once it holds this many bytes. Default 1 MiB. */
  maxBatchBytes?: number;
  /** How long a batch waits for more messages. Default 5 ms. */
  lingerMs?: number;
  /** Batches sent concurrently. Default 5. */
  maxInFlight?: number;
  fetch?: typeof globalThis.fetch;
  /** Extra headers for producer requests (merged over the handle's headers). */
  headers?: HeadersRecord;
  signal?: AbortSignal;
  /** Receives every delivery failure (append() itself never rejects). */
  onError?: (error: Error) => void;
  /**
   * Retry policy for network errors, 5xx and 429. Retries are safe (the server
   * deduplicates) but bounded: after `maxRetries` the batch fails. Default
   * maxRetries is 10.
   */
  backoffOptions?: Partial<BackoffOptions>;
}

/** What one producer append amounts to on the server. */
export interface IdempotentAppendResult {
  /** The stream offset after the batch that carried the message. */
  offset: Offset;
  /** True when the server had already applied that batch (a retry). */
  duplicate: boolean;
}

/**
 * A read session. See README for the consumption methods; only one of them
 * may be used per response.
 */
export interface StreamResponse<TJson = unknown> {
  readonly url: string;
  readonly contentType?: string;
  readonly live: LiveMode;
  readonly startOffset: Offset;
  readonly headers: Headers;
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly isLoading: boolean;
  readonly offset: Offset;
  readonly cursor?: string;
  readonly upToDate: boolean;
  readonly streamClosed: boolean;

  body(): Promise<Uint8Array>;
  json<T = TJson>(): Promise<Array<T>>;
  text(): Promise<string>;

  bodyStream(): ReadableStreamAsyncIterable<Uint8Array>;
  jsonStream(): ReadableStreamAsyncIterable<TJson>;
  textStream(): ReadableStreamAsyncIterable<string>;

  subscribeJson<T = TJson>(subscriber: (batch: JsonBatch<T>) => void | Promise<void>): () => void;
  subscribeBytes(subscriber: (chunk: ByteChunk) => void | Promise<void>): () => void;
  subscribeText(subscriber: (chunk: TextChunk) => void | Promise<void>): () => void;

  cancel(reason?: unknown): void;
  readonly closed: Promise<void>;
}

export type ReadableStreamAsyncIterable<T> = ReadableStream<T> & AsyncIterable<T>;
