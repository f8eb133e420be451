/**
 * @rill/client — a Durable Streams client for Node and browsers, with the
 * public API of the official @durable-streams/client.
 */
export { stream } from "./read/stream.js";
export { DurableStream } from "./durable-stream.js";
export { IdempotentProducer } from "./producer/idempotent-producer.js";
export { asAsyncIterableReadableStream } from "./async-iterable.js";

export {
  DurableStreamError,
  FetchError,
  StreamClosedError,
  StaleEpochError,
  SequenceGapError,
  RetainedOffsetError,
  FetchBackoffAbortError,
  MissingStreamUrlError,
  InvalidSignalError,
} from "./errors.js";

export { BackoffDefaults, type BackoffOptions } from "./fetch/backoff.js";
export {
  createFetchWithBackoff,
  createFetchWithConsumedBody,
  createFetchWithHttpErrors,
  IDEMPOTENT,
  NOT_APPLIED_ONLY,
  type RetryPolicy,
} from "./fetch/wrappers.js";
export { SseParser, type SseEvent } from "./sse-parser.js";
export { warnIfPlainHttpInBrowser as warnIfUsingHttpInBrowser } from "./environment.js";

export * from "./constants.js";

export type {
  Offset,
  MaybePromise,
  HeadersRecord,
  ParamsRecord,
  LiveMode,
  RetryOpts,
  StreamErrorHandler,
  StreamOptions,
  SSEResilienceOptions,
  StreamHandleOptions,
  DurableStreamOptions,
  DurableStreamConstructorOptions,
  CreateOptions,
  AppendOptions,
  CloseOptions,
  CloseResult,
  HeadResult,
  HeadResultExists,
  HeadResultNotFound,
  JsonBatchMeta,
  JsonBatch,
  ByteChunk,
  TextChunk,
  StreamResponse,
  ReadableStreamAsyncIterable,
  IdempotentProducerOptions,
  IdempotentAppendResult,
  DurableStreamErrorCode,
} from "./types.js";
