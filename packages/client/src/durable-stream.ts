/**
 * DurableStream: a handle on one stream URL for creating, inspecting,
 * appending to, closing, deleting and reading it. The constructor does no
 * I/O; every method resolves headers and params afresh.
 */
import { HEADER, isJsonContentType } from "@rill/protocol";
import { AppendBatcher } from "./append-batcher.js";
import { requestBody } from "./body.js";
import { DurableStreamError, FetchError, MissingStreamUrlError, isAbortError } from "./errors.js";
import { BackoffDefaults, resolveBackoff } from "./fetch/backoff.js";
import {
  IDEMPOTENT,
  NOT_APPLIED_ONLY,
  createFetchWithBackoff,
  createFetchWithHttpErrors,
  globalFetch,
  type FetchLike,
  type RetryPolicy,
} from "./fetch/wrappers.js";
import { absoluteUrl, warnIfPlainHttpInBrowser } from "./environment.js";
import { HANDLE, type HandleAccess } from "./internal.js";
import { encodeMessage, frameMessages, settledMessage } from "./message-codec.js";
import { IdempotentProducer } from "./producer/idempotent-producer.js";
import { stream as openStream } from "./read/stream.js";
import { anySignal, buildUrl, resolveHeaders, resolveParams } from "./request.js";
import { toReadableBytes } from "./streams.js";
import type {
  AppendOptions,
  CloseOptions,
  CloseResult,
  CreateOptions,
  DurableStreamOptions,
  HeadResult,
  IdempotentProducerOptions,
  StreamHandleOptions,
  StreamOptions,
  StreamResponse,
} from "./types.js";

type Send = {
  method: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  signal?: AbortSignal;
  policy: RetryPolicy;
};

/** A prepared append: the encoded message plus its options. */
type Prepared = { data: Uint8Array; options: AppendOptions | undefined; contentType: string; json: boolean };

export class DurableStream {
  readonly url: string;
  /** The stream's content type, once known (options, create, or a HEAD). */
  contentType?: string;

  readonly #options: StreamHandleOptions;
  readonly #fetch: FetchLike;
  /** The wrapped fetch for each retry policy, built once for the handle. */
  readonly #fetchers: ReadonlyMap<RetryPolicy, FetchLike>;
  readonly #batcher: AppendBatcher<Prepared> | null;

  constructor(opts: DurableStreamOptions) {
    if (!opts?.url) throw new MissingStreamUrlError();
    this.url = absoluteUrl(opts.url);
    warnIfPlainHttpInBrowser(this.url, opts.warnOnHttp);
    this.#options = { ...opts, url: this.url };
    this.contentType = opts.contentType;
    this.#fetch = opts.fetch ?? globalFetch;
    // Handle operations give up after a few retries rather than hang on a dead server.
    const backoff = resolveBackoff(opts.backoffOptions, { ...BackoffDefaults, maxRetries: 5 });
    this.#fetchers = new Map(
      [IDEMPOTENT, NOT_APPLIED_ONLY].map((policy) => [policy, createFetchWithHttpErrors(createFetchWithBackoff(this.#fetch, backoff, policy))]),
    );
    this.#batcher = opts.batching === false ? null : new AppendBatcher<Prepared>((items) => this.#sendBatch(items));
    const access: HandleAccess = {
      target: () => this.#target(),
      fetch: this.#fetch,
      contentType: () => this.#knownContentType(),
      tailOffset: () => this.#tailOffset(),
      signal: opts.signal,
    };
    Object.defineProperty(this, HANDLE, { value: access, enumerable: false });
  }

  // ---- static conveniences ----

  /** Creates the stream (PUT) and returns a handle on it. */
  static async create(opts: CreateOptions): Promise<DurableStream> {
    const handle = new DurableStream(opts);
    await handle.create(opts);
    return handle;
  }

  /** Returns a handle after checking with HEAD that the stream exists. */
  static async connect(opts: DurableStreamOptions): Promise<DurableStream> {
    const handle = new DurableStream(opts);
    const head = await handle.head();
    if (!head.exists) throw new DurableStreamError(`Stream not found: ${handle.url}`, "NOT_FOUND", 404);
    return handle;
  }

  static head(opts: DurableStreamOptions): Promise<HeadResult> {
    return new DurableStream(opts).head();
  }

  static delete(opts: DurableStreamOptions): Promise<void> {
    return new DurableStream(opts).delete();
  }

  // ---- metadata and lifecycle ----

  async head(opts?: { signal?: AbortSignal }): Promise<HeadResult> {
    let response: Response;
    try {
      response = await this.#send({ method: "HEAD", signal: opts?.signal, policy: IDEMPOTENT });
    } catch (error) {
      if (error instanceof FetchError && error.status === 404) return { exists: false };
      throw error;
    }
    const headers = response.headers;
    const contentType = headers.get(HEADER.contentType) ?? undefined;
    if (contentType) this.contentType = contentType;
    const ttl = headers.get(HEADER.streamTtl);
    return {
      exists: true,
      contentType,
      offset: headers.get(HEADER.streamNextOffset) ?? undefined,
      etag: headers.get(HEADER.etag) ?? undefined,
      cacheControl: headers.get(HEADER.cacheControl) ?? undefined,
      streamClosed: headers.get(HEADER.streamClosed)?.toLowerCase() === "true",
      ttlSeconds: ttl !== null && ttl !== "" ? Number(ttl) : undefined,
      expiresAt: headers.get(HEADER.streamExpiresAt) ?? undefined,
    };
  }

  /** Creates this stream. An identical existing stream is fine; a different one is CONFLICT_EXISTS. */
  async create(opts?: Omit<CreateOptions, "url">): Promise<this> {
    const contentType = opts?.contentType ?? this.#options.contentType;
    const headers: Record<string, string> = {};
    if (contentType) headers[HEADER.contentType] = contentType;
    if (opts?.ttlSeconds !== undefined) headers[HEADER.streamTtl] = String(opts.ttlSeconds);
    if (opts?.expiresAt !== undefined) headers[HEADER.streamExpiresAt] = opts.expiresAt;
    if (opts?.closed) headers[HEADER.streamClosed] = "true";
    const body = await requestBody(opts?.body, isJsonContentType(contentType));
    const response = await this.#send({ method: "PUT", headers, body, signal: opts?.signal, policy: IDEMPOTENT });
    this.contentType = response.headers.get(HEADER.contentType) ?? contentType ?? this.contentType;
    return this;
  }

  async delete(opts?: { signal?: AbortSignal }): Promise<void> {
    await this.#send({ method: "DELETE", signal: opts?.signal, policy: IDEMPOTENT });
  }

  /**
   * Closes the stream, optionally appending a final message in the same
   * request. Closing without a body is idempotent; with a body, a stream that
   * is already closed raises StreamClosedError.
   */
  async close(opts?: CloseOptions): Promise<CloseResult> {
    await this.#batcher?.idle();
    const contentType = opts?.contentType ?? (await this.#knownContentType());
    const headers: Record<string, string> = { [HEADER.streamClosed]: "true", [HEADER.contentType]: contentType };
    let body: BodyInit | undefined;
    if (opts?.body !== undefined) {
      const json = isJsonContentType(contentType);
      body = frameMessages([encodeMessage(await settledMessage(opts.body), json)], json) as unknown as BodyInit;
    }
    const policy = body === undefined ? IDEMPOTENT : NOT_APPLIED_ONLY;
    const response = await this.#send({ method: "POST", headers, body, signal: opts?.signal, policy });
    const finalOffset = response.headers.get(HEADER.streamNextOffset) ?? (await this.#tailOffset());
    return { finalOffset };
  }

  // ---- writes ----

  /**
   * Appends one message. For JSON streams, strings and bytes are JSON text and
   * other values are serialized; for other streams the bytes are appended.
   * Calls overlapping an in-flight POST are sent together in the next one.
   */
  append(body: unknown, opts?: AppendOptions): Promise<void> {
    const prepare = () => this.#prepare(body, opts);
    const direct = !this.#batcher || opts?.producerId !== undefined;
    if (direct) return prepare().then((item) => this.#sendBatch([item]));
    // Appends share a POST only with the same content type and no signal of
    // their own: aborting one append must not abort others.
    const key = opts?.signal ? `signal:${signalId(opts.signal)}` : `type:${opts?.contentType ?? ""}`;
    return this.#batcher!.add(prepare, key);
  }

  /**
   * Streams a body into one POST. Strings are UTF-8 encoded; bytes pass
   * through unchanged and no separators are added. (For a JSON stream the
   * streamed bytes must form one JSON value; an array appends each element.)
   */
  async appendStream(
    source: ReadableStream<Uint8Array | string> | AsyncIterable<Uint8Array | string>,
    opts?: AppendOptions,
  ): Promise<void> {
    await this.#batcher?.idle();
    const headers = this.#appendHeaders(opts?.contentType ?? (await this.#knownContentType()), opts);
    const init: Send & { duplex?: "half" } = {
      method: "POST",
      headers,
      body: toReadableBytes(source),
      signal: opts?.signal,
      policy: NOT_APPLIED_ONLY,
      duplex: "half",
    };
    await this.#send(init);
  }

  /**
   * A WritableStream that appends what is written through an
   * IdempotentProducer (batched, exactly once). Closing the writable closes
   * the stream; aborting it only stops the producer.
   */
  writable(
    opts?: Pick<IdempotentProducerOptions, "headers" | "lingerMs" | "maxBatchBytes" | "onError"> & {
      producerId?: string;
      signal?: AbortSignal;
    },
  ): WritableStream<Uint8Array | string> {
    const producer = new IdempotentProducer(this, opts?.producerId ?? randomProducerId(), {
      autoClaim: true,
      headers: opts?.headers,
      lingerMs: opts?.lingerMs,
      maxBatchBytes: opts?.maxBatchBytes,
      signal: opts?.signal ?? this.#options.signal,
      onError: opts?.onError,
    });
    return new WritableStream<Uint8Array | string>({
      write: (chunk) => producer.append(chunk),
      close: async () => {
        await producer.close();
      },
      abort: async () => {
        await producer.detach().catch(() => undefined);
      },
    });
  }

  // ---- reads ----

  /** Starts a read session, like stream(), with this handle's URL, headers and params. */
  stream<TJson = unknown>(options?: Omit<StreamOptions, "url">): Promise<StreamResponse<TJson>> {
    return openStream<TJson>({
      url: this.url,
      headers: { ...this.#options.headers, ...options?.headers },
      params: { ...this.#options.params, ...options?.params },
      signal: options?.signal ?? this.#options.signal,
      fetch: options?.fetch ?? this.#options.fetch,
      backoffOptions: options?.backoffOptions ?? this.#options.backoffOptions,
      offset: options?.offset,
      live: options?.live,
      json: options?.json,
      onError: options?.onError ?? this.#options.onError,
      onRetained: options?.onRetained,
      sseResilience: options?.sseResilience,
      warnOnHttp: false,
    });
  }

  /** The handle's headers, resolved now. */
  resolveHeaders(): Promise<Record<string, string>> {
    return resolveHeaders(this.#options.headers);
  }

  // ---- internals ----

  async #target(): Promise<{ url: string; headers: Record<string, string> }> {
    const [headers, params] = await Promise.all([resolveHeaders(this.#options.headers), resolveParams(this.#options.params)]);
    return { url: buildUrl(this.url, params), headers };
  }

  async #send(request: Send & { duplex?: "half" }): Promise<Response> {
    const { url, headers } = await this.#target();
    const { signal, dispose } = anySignal([this.#options.signal, request.signal]);
    const fetcher = this.#fetchers.get(request.policy)!;
    try {
      const init: RequestInit & { duplex?: "half" } = { method: request.method, headers: { ...headers, ...request.headers }, body: request.body, signal };
      if (request.duplex) init.duplex = request.duplex;
      return await fetcher(url, init);
    } catch (error) {
      if (signal.aborted && isAbortError(error)) {
        throw new DurableStreamError(`${request.method} ${this.url} was aborted`, "ABORTED", undefined, undefined, { cause: signal.reason });
      }
      throw error;
    } finally {
      dispose();
    }
  }

  async #knownContentType(): Promise<string> {
    if (this.contentType === undefined) await this.head();
    if (this.contentType === undefined) throw new DurableStreamError(`Stream not found: ${this.url}`, "NOT_FOUND", 404);
    return this.contentType;
  }

  async #tailOffset(): Promise<string> {
    const head = await this.head();
    return head.exists ? (head.offset ?? "") : "";
  }

  async #prepare(body: unknown, options: AppendOptions | undefined): Promise<Prepared> {
    const value = await settledMessage(body);
    const contentType = options?.contentType ?? (await this.#knownContentType());
    const json = isJsonContentType(contentType);
    return { data: encodeMessage(value, json), options, contentType, json };
  }

  #appendHeaders(contentType: string, options: AppendOptions | undefined): Record<string, string> {
    const headers: Record<string, string> = { [HEADER.contentType]: contentType };
    if (options?.seq !== undefined) headers[HEADER.streamSeq] = options.seq;
    if (options?.producerId !== undefined) {
      headers[HEADER.producerId] = options.producerId;
      headers[HEADER.producerEpoch] = String(options.producerEpoch ?? 0);
      headers[HEADER.producerSeq] = String(options.producerSeq ?? 0);
    }
    return headers;
  }

  async #sendBatch(items: Prepared[]): Promise<void> {
    const first = items[0]!;
    const seq = items.reduce<string | undefined>((last, item) => item.options?.seq ?? last, undefined);
    const headers = this.#appendHeaders(first.contentType, { ...first.options, seq });
    const body = frameMessages(items.map((item) => item.data), first.json) as unknown as BodyInit;
    const { signal, dispose } = anySignal(items.map((item) => item.options?.signal));
    const policy = first.options?.producerId !== undefined ? IDEMPOTENT : NOT_APPLIED_ONLY;
    try {
      await this.#send({ method: "POST", headers, body, signal, policy });
    } finally {
      dispose();
    }
  }
}

const signalIds = new WeakMap<AbortSignal, number>();
let nextSignalId = 0;
function signalId(signal: AbortSignal): number {
  let id = signalIds.get(signal);
  if (id === undefined) signalIds.set(signal, (id = nextSignalId++));
  return id;
}

function randomProducerId(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `writable-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}
