/**
 * IdempotentProducer: fire-and-forget appends, batched (lingerMs /
 * maxBatchBytes) and pipelined (maxInFlight), each batch stamped with
 * (producer id, epoch, seq) so the server applies it exactly once however
 * often it is sent. Delivery failures go to onError and reject flush();
 * see pipeline.ts for the retry and ordering rules.
 */
import { concatBytes, isJsonContentType } from "@rill/protocol";
import { isBinary, jsonMessageText, toBytes, utf8 } from "../body.js";
import type { DurableStream } from "../durable-stream.js";
import { DurableStreamError, StreamClosedError } from "../errors.js";
import { BackoffDefaults, backoffDelay, resolveBackoff, sleep, type BackoffOptions } from "../fetch/backoff.js";
import { globalFetch } from "../fetch/wrappers.js";
import { handleAccess, type HandleAccess } from "../internal.js";
import type { CloseResult, IdempotentProducerOptions } from "../types.js";
import { Pipeline } from "./pipeline.js";
import { sendProducerRequest, type RequestContext } from "./request.js";

const COMMA = utf8(",");
const OPEN = utf8("[");
const CLOSE = utf8("]");

export class IdempotentProducer {
  readonly #stream: DurableStream;
  readonly #access: HandleAccess;
  readonly #producerId: string;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  readonly #autoClaim: boolean;
  readonly #acceptAlreadyClosed: boolean;
  readonly #backoff: BackoffOptions;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #controller = new AbortController();
  readonly #context: RequestContext;
  readonly #pipeline: Pipeline;

  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #contentType: string | undefined;
  #json: boolean | undefined;
  /** Seals waiting for the content type, chained to keep their order. */
  #deferred = 0;
  #chain: Promise<void> = Promise.resolve();
  #state: "open" | "detached" | "closed" = "open";
  #closing: Promise<CloseResult> | undefined;
  #closeStamp: { epoch: number; seq: number } | undefined;

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

    this.#stream = stream;
    this.#access = handleAccess(stream);
    this.#producerId = producerId;
    this.#autoClaim = opts.autoClaim ?? false;
    this.#acceptAlreadyClosed = opts.acceptAlreadyClosed ?? false;
    this.#onError = opts.onError;
    this.#backoff = resolveBackoff(opts.backoffOptions, { ...BackoffDefaults, maxRetries: 10 });
    if (stream.contentType !== undefined) this.#learnContentType(stream.contentType);

    this.#context = {
      access: this.#access,
      fetch: opts.fetch ?? this.#access.fetch ?? globalFetch,
      headers: opts.headers,
      signal: this.#controller.signal,
    };
    this.#pipeline = new Pipeline({
      maxInFlight,
      autoClaim: this.#autoClaim,
      backoff: this.#backoff,
      epoch,
      send: (batch) =>
        sendProducerRequest(this.#context, {
          producerId,
          epoch: batch.epoch,
          seq: batch.seq,
          contentType: this.#contentType!,
          body: batch.body,
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
    const bytes = this.#encode(body);
    // Count what the body will really weigh: in JSON mode each message brings
    // a comma (or the closing bracket) and the batch an opening bracket.
    const framing = this.#json ? 1 : 0;
    const weight = bytes.length + framing;
    if (this.#pending.length > 0 && framing + this.#pendingBytes + weight > this.#maxBatchBytes) this.#seal();
    this.#pending.push(bytes);
    this.#pendingBytes += weight;
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
    const attempt = this.flush().then(() => this.#sendClose(finalMessage));
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
    this.#closeStamp = undefined;
  }

  // ---- batching ----

  #encode(body: unknown): Uint8Array {
    if (this.#json === true) return utf8(jsonMessageText(body, true));
    if (typeof body === "string") return utf8(body);
    if (isBinary(body)) return toBytes(body);
    if (this.#json === false) {
      throw new DurableStreamError("append() needs a string or bytes for a non-JSON stream", "BAD_REQUEST");
    }
    // Content type not known yet: only a JSON stream can take this value.
    return utf8(jsonMessageText(body, false));
  }

  #seal(): void {
    if (this.#linger !== undefined) {
      clearTimeout(this.#linger);
      this.#linger = undefined;
    }
    if (this.#pending.length === 0) return;
    const messages = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#json !== undefined && this.#deferred === 0) {
      this.#enqueue(messages);
      return;
    }
    this.#deferred++;
    this.#chain = this.#chain
      .then(async () => {
        if (await this.#resolveContentType()) this.#enqueue(messages);
      })
      .finally(() => {
        this.#deferred--;
      });
  }

  #enqueue(messages: Uint8Array[]): void {
    const body = this.#json ? frameJson(messages) : concatBytes(messages);
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

  async #sendClose(finalMessage: unknown): Promise<CloseResult> {
    if (!(await this.#resolveContentType())) throw this.#pipeline.failure!;
    let body: Uint8Array | undefined;
    if (finalMessage !== undefined) {
      const message = this.#encode(finalMessage);
      body = this.#json ? frameJson([message]) : message;
    }
    this.#closeStamp ??= { epoch: this.#pipeline.epoch, seq: this.#pipeline.takeSeq() };
    for (let attempt = 0; ; attempt++) {
      const stamp = this.#closeStamp;
      const outcome = await sendProducerRequest(this.#context, {
        producerId: this.#producerId,
        epoch: stamp.epoch,
        seq: stamp.seq,
        contentType: this.#contentType!,
        body,
        close: true,
      });
      switch (outcome.kind) {
        case "ok":
          return { finalOffset: outcome.offset ?? (await this.#tailOffset()) };
        case "stale":
          this.#pipeline.sawServerEpoch(outcome.currentEpoch);
          if (!this.#autoClaim) throw outcome.error;
          this.#pipeline.reset(Math.max(outcome.currentEpoch, stamp.epoch) + 1);
          this.#closeStamp = { epoch: this.#pipeline.epoch, seq: this.#pipeline.takeSeq() };
          break;
        case "retry":
          if (attempt >= (this.#backoff.maxRetries ?? Infinity)) throw outcome.error;
          await sleep(backoffDelay(attempt, this.#backoff, outcome.retryAfterMs), this.#controller.signal);
          break;
        case "gap":
          throw outcome.error;
        case "fatal":
          // Someone else closed the stream. Like the official client this is
          // an error (StreamClosedError, 409 STREAM_CLOSED) unless the caller
          // opted to take it as the outcome asked for (no final message lost).
          if (this.#acceptAlreadyClosed && outcome.error instanceof StreamClosedError && finalMessage === undefined) {
            return { finalOffset: outcome.error.finalOffset ?? (await this.#tailOffset()) };
          }
          throw outcome.error;
      }
    }
  }

  async #tailOffset(): Promise<string> {
    const head = await this.#stream.head();
    return head.exists ? (head.offset ?? "") : "";
  }
}

/** `[m1,m2,…]` from message texts already encoded as UTF-8. */
function frameJson(messages: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [OPEN];
  messages.forEach((message, index) => {
    if (index > 0) parts.push(COMMA);
    parts.push(message);
  });
  parts.push(CLOSE);
  return concatBytes(parts);
}
