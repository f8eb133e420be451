/**
 * IdempotentProducer: fire-and-forget appends, batched (lingerMs /
 * maxBatchBytes) and pipelined (maxInFlight), each batch stamped with
 * (producer id, epoch, seq) so the server applies it exactly once however
 * often it is sent. Delivery failures go to onError and reject flush();
 * see pipeline.ts for the retry and ordering rules.
 */
import { isJsonContentType } from "@rill/protocol";
import type { DurableStream } from "../durable-stream.js";
import { DurableStreamError, StreamClosedError } from "../errors.js";
import { BackoffDefaults, resolveBackoff } from "../fetch/backoff.js";
import { globalFetch } from "../fetch/wrappers.js";
import { handleAccess, type HandleAccess } from "../internal.js";
import type { CloseResult, IdempotentProducerOptions } from "../types.js";
import {
  JSON_MESSAGE_OVERHEAD,
  JSON_REQUEST_OVERHEAD,
  encodeMessage,
  frameMessages,
  sizedPart,
  type MessagePart,
} from "../message-codec.js";
import { Pipeline } from "./pipeline.js";
import { sendProducerRequest, type RequestContext } from "./request.js";

export class IdempotentProducer {
  readonly #access: HandleAccess;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  readonly #acceptAlreadyClosed: boolean;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #controller = new AbortController();
  readonly #context: RequestContext;
  readonly #pipeline: Pipeline;

  #pending: MessagePart[] = [];
  /** What the pending messages will weigh in the request body, framing included. */
  #pendingBytes = 0;
  /** Their own UTF-8 bytes, without framing: the size of the body's buffer, less its brackets and commas. */
  #pendingPartBytes = 0;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #contentType: string | undefined;
  #json: boolean | undefined;
  /** Seals waiting for the content type, chained to keep their order. */
  #deferred = 0;
  #chain: Promise<void> = Promise.resolve();
  #state: "open" | "detached" | "closed" = "open";
  #closing: Promise<CloseResult> | undefined;

  constructor(stream: DurableStream, producerId: string, opts: IdempotentProducerOptions = {}) {
    if (typeof producerId !== "string" || producerId.length === 0) {
      throw new DurableStreamError("producerId must be a non-empty string", "BAD_REQUEST");
    }
    const epoch = opts.epoch ?? 0;
    const maxInFlight = opts.maxInFlight ?? 5;
    this.#maxBatchBytes = opts.maxBatchBytes ?? 1024 * 1024;
    this.#lingerMs = opts.lingerMs ?? 5;
    if (!Number.isInteger(epoch) || epoch < 0) throw new DurableStreamError("epoch must be an integer >= 0", "BAD_REQUEST");
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new DurableStreamError("maxInFlight must be >= 1", "BAD_REQUEST");
    if (!(this.#maxBatchBytes > 0)) throw new DurableStreamError("maxBatchBytes must be > 0", "BAD_REQUEST");
    if (!(this.#lingerMs >= 0)) throw new DurableStreamError("lingerMs must be >= 0", "BAD_REQUEST");

    this.#access = handleAccess(stream);
    this.#acceptAlreadyClosed = opts.acceptAlreadyClosed ?? false;
    this.#onError = opts.onError;
    if (stream.contentType !== undefined) this.#learnContentType(stream.contentType);

    this.#context = {
      access: this.#access,
      fetch: opts.fetch ?? this.#access.fetch ?? globalFetch,
      headers: opts.headers,
      signal: this.#controller.signal,
    };
    this.#pipeline = new Pipeline({
      maxInFlight,
      autoClaim: opts.autoClaim ?? false,
      backoff: resolveBackoff(opts.backoffOptions, { ...BackoffDefaults, maxRetries: 10 }),
      epoch,
      send: (batch) =>
        sendProducerRequest(this.#context, {
          producerId,
          epoch: batch.epoch,
          seq: batch.seq,
          contentType: this.#contentType!,
          body: batch.body,
          close: batch.closing !== undefined,
        }),
      onFailure: (error) => {
        this.#dropPending();
        this.#onError?.(error);
      },
    });

    const signal = opts.signal ?? this.#access.signal;
    const onAbort = () => {
      this.#controller.abort(signal?.reason);
      this.#pipeline.fail(new DurableStreamError("Producer aborted", "ABORTED", undefined, undefined, { cause: signal?.reason }));
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  }

  get epoch(): number {
    return this.#pipeline.epoch;
  }
  get nextSeq(): number {
    return this.#pipeline.nextSeq;
  }
  /** Messages waiting to be sealed into a batch. */
  get pendingCount(): number {
    return this.#pending.length;
  }
  /** Batches sent or queued and not yet acknowledged. */
  get inFlightCount(): number {
    return this.#pipeline.size;
  }
  /** The stream offset after the newest acknowledged batch, when known. */
  get lastSuccessfulOffset(): string | undefined {
    return this.#pipeline.lastOffset;
  }

  /**
   * Queues one message and returns at once. For JSON streams strings and
   * bytes are JSON text and other values are serialized. Throws if the
   * producer is closed or has failed (see restart()).
   */
  append(body: unknown): void {
    if (this.#state !== "open") throw new DurableStreamError("Producer is closed", "ALREADY_CLOSED");
    const failure = this.#pipeline.failure;
    if (failure) throw failure;
    const { part, bytes } = sizedPart(body, this.#json);
    // Count what the request body will really weigh, framing included.
    const framing = this.#json ? JSON_REQUEST_OVERHEAD : 0;
    const weight = bytes + (this.#json ? JSON_MESSAGE_OVERHEAD : 0);
    if (this.#pending.length > 0 && framing + this.#pendingBytes + weight > this.#maxBatchBytes) this.#seal();
    this.#pending.push(part);
    this.#pendingBytes += weight;
    this.#pendingPartBytes += bytes;
    if (framing + this.#pendingBytes >= this.#maxBatchBytes) this.#seal();
    else this.#linger ??= setTimeout(() => this.#seal(), this.#lingerMs);
  }

  /** Sends what is pending and waits until every batch is acknowledged. */
  async flush(): Promise<void> {
    this.#seal();
    await this.#chain;
    await this.#pipeline.whenIdle();
  }

  /**
   * Flushes, then closes the stream (optionally with a final message in the
   * same request). Safe to call again: the close request keeps its stamp, so
   * a retry is recognised by the server.
   */
  close(finalMessage?: unknown): Promise<CloseResult> {
    if (this.#closing) return this.#closing;
    this.#state = "closed";
    const attempt = this.#sendClose(finalMessage);
    this.#closing = attempt;
    attempt.catch(() => {
      if (this.#closing === attempt) this.#closing = undefined;
    });
    return attempt;
  }

  /** Flushes and stops accepting appends, leaving the stream open. */
  async detach(): Promise<void> {
    if (this.#state === "open") this.#state = "detached";
    await this.flush();
  }

  /**
   * Starts a new epoch with seq 0. After a failure this is how the producer
   * resumes (pending messages were dropped and reported); otherwise it
   * flushes first.
   */
  async restart(): Promise<void> {
    if (this.#pipeline.failure) {
      this.#dropPending();
      await this.#chain.catch(() => undefined);
    } else {
      await this.flush();
    }
    this.#pipeline.reset(Math.max(this.#pipeline.epoch, this.#pipeline.serverEpoch) + 1);
  }

  // ---- batching ----

  #seal(): void {
    if (this.#linger !== undefined) {
      clearTimeout(this.#linger);
      this.#linger = undefined;
    }
    if (this.#pending.length === 0) return;
    const messages = this.#pending;
    const bytes = this.#pendingPartBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingPartBytes = 0;
    if (this.#json !== undefined && this.#deferred === 0) {
      this.#enqueue(messages, bytes);
      return;
    }
    this.#deferred++;
    this.#chain = this.#chain
      .then(async () => {
        if (await this.#resolveContentType()) this.#enqueue(messages, bytes);
      })
      .finally(() => {
        this.#deferred--;
      });
  }

  #enqueue(messages: MessagePart[], bytes: number): void {
    const body = frameMessages(messages, this.#json!, bytes);
    try {
      this.#pipeline.enqueue(body, messages.length);
    } catch {
      // The pipeline failed meanwhile; that failure was reported already.
    }
  }

  #dropPending(): void {
    if (this.#linger !== undefined) clearTimeout(this.#linger);
    this.#linger = undefined;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingPartBytes = 0;
  }

  #learnContentType(contentType: string): void {
    this.#contentType = contentType;
    this.#json = isJsonContentType(contentType);
  }

  /** Learns the content type (HEAD) if needed; false if that failed the pipeline. */
  async #resolveContentType(): Promise<boolean> {
    if (this.#json !== undefined) return true;
    try {
      this.#learnContentType(await this.#access.contentType());
      return true;
    } catch (error) {
      this.#pipeline.fail(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  // ---- closing ----

  /**
   * The close is the pipeline's last batch (see pipeline.ts): it goes once
   * everything before it is acknowledged, and keeps its stamp across calls.
   */
  async #sendClose(finalMessage: unknown): Promise<CloseResult> {
    this.#seal();
    await this.#chain;
    if (!(await this.#resolveContentType())) throw this.#pipeline.failure!;
    const body = finalMessage === undefined ? undefined : frameMessages([encodeMessage(finalMessage, this.#json)], this.#json!);
    try {
      const offset = await this.#pipeline.close(body);
      return { finalOffset: offset ?? (await this.#access.tailOffset()) };
    } catch (error) {
      // Someone else closed the stream. Like the official client this is an
      // error (StreamClosedError, 409 STREAM_CLOSED) unless the caller opted
      // to take it as the outcome asked for (no final message is lost).
      if (this.#acceptAlreadyClosed && error instanceof StreamClosedError && finalMessage === undefined) {
        return { finalOffset: error.finalOffset ?? (await this.#access.tailOffset()) };
      }
      throw error;
    }
  }
}
