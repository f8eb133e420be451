/**
 * The I/O side of a read: performs the requests machine.ts asks for, keeps an
 * SSE connection open across pulls, retries with backoff, and consults the
 * user's onError for failures retries do not cover. Pull-based: nothing is
 * fetched until the consumer asks for the next batch, which is what gives
 * subscribers and streams their backpressure.
 */
import { HEADER, LIVE_MODE, QUERY, isJsonContentType, isTextContentType } from "@rill/protocol";
import { DurableStreamError, isAbortError, networkError, RetainedOffsetError } from "../errors.js";
import { RetrySchedule, backoffDelay, sleep, type BackoffOptions } from "../fetch/backoff.js";
import {
  createFetchWithBackoff,
  createFetchWithConsumedBody,
  createFetchWithHttpErrors,
  type FetchLike,
} from "../fetch/wrappers.js";
import { buildUrl, resolveHeaders, resolveParams } from "../request.js";
import type { HeadersRecord, LiveMode, ParamsRecord, SSEResilienceOptions, StreamErrorHandler } from "../types.js";
import { Payload, type Batch } from "./batch.js";
import {
  advance,
  connectionEnded,
  initialState,
  liveTransport,
  nextStep,
  worthDelivering,
  type LiveTransport,
  type PositionReport,
  type ReadState,
} from "./machine.js";
import { SseBatchReader } from "./sse-reader.js";

export interface SessionConfig {
  url: string;
  headers?: HeadersRecord;
  params?: ParamsRecord;
  fetch: FetchLike;
  backoff: BackoffOptions;
  onError?: StreamErrorHandler;
  onRetained: "error" | "skip-to-earliest";
  live: LiveMode;
  jsonHint: boolean;
  offset: string;
  signal: AbortSignal;
  sseResilience?: SSEResilienceOptions;
}

const RESILIENCE: Required<SSEResilienceOptions> = {
  minConnectionDuration: 1000,
  maxShortConnections: 3,
  backoffBaseDelay: 100,
  backoffMaxDelay: 5000,
  logWarnings: true,
};

export class ReadSession {
  /** Where the next request reads from. */
  state: ReadState;
  /** The position of the last batch handed out (decides what is worth delivering). */
  #delivered: ReadState;
  /** The most recent HTTP response (its body may already be consumed). */
  lastResponse!: Response;
  contentType: string | undefined;
  jsonMode = false;
  /** Set by promise helpers: never go live, stop once caught up. */
  stopAtUpToDate = false;

  readonly #config: SessionConfig;
  #transport: LiveTransport | null;
  readonly #resilience: Required<SSEResilienceOptions>;
  readonly #bufferedFetch: FetchLike;
  readonly #streamingFetch: FetchLike;
  #headers: HeadersRecord | undefined;
  #params: ParamsRecord | undefined;
  #pending: Response | null = null;
  #sse: SseBatchReader | null = null;
  /** Failures the session itself retries (a dropped SSE connection, onError's retries). */
  readonly #retries: RetrySchedule;
  #sseOpenedAt = 0;
  #shortConnections = 0;

  private constructor(config: SessionConfig) {
    this.#config = config;
    this.state = initialState(config.offset);
    this.#delivered = this.state;
    this.#transport = liveTransport(config.live);
    this.#resilience = { ...RESILIENCE, ...definedOnly(config.sseResilience) };
    this.#headers = config.headers;
    this.#params = config.params;
    const retrying = createFetchWithBackoff(createFetchWithConsumedBody(config.fetch), config.backoff);
    this.#bufferedFetch = createFetchWithHttpErrors(retrying);
    this.#streamingFetch = createFetchWithHttpErrors(createFetchWithBackoff(config.fetch, config.backoff));
    // onFailedAttempt reports the fetch layer's retries; the session's own
    // waits (after onError, or a dropped SSE connection) are not fetch retries.
    this.#retries = new RetrySchedule({ ...config.backoff, onFailedAttempt: undefined });
  }

  /** Makes the first (catch-up) request; rejects like fetch would. */
  static async open(config: SessionConfig): Promise<ReadSession> {
    const session = new ReadSession(config);
    const first = await session.#request("catch-up");
    session.#adopt(first);
    session.#pending = first;
    return session;
  }

  /** The next batch worth delivering, or null once the read is over. */
  async next(): Promise<Batch | null> {
    for (;;) {
      this.#throwIfAborted();
      if (this.#sse) {
        const batch = await this.#readSse(this.#sse);
        if (batch) return batch;
        continue;
      }
      const step = nextStep(this.state, this.#transport, this.stopAtUpToDate);
      if (step === "done") return null;
      if (step === "sse") {
        const response = await this.#request("sse");
        this.#adopt(response);
        if (!response.body || !/text\/event-stream/i.test(response.headers.get(HEADER.contentType) ?? "")) {
          throw new DurableStreamError(`Server did not answer with an event stream at ${this.#config.url}`, "SSE_NOT_SUPPORTED", response.status);
        }
        const base64 = this.#sseBase64(response);
        this.#sse = new SseBatchReader(response.body, { base64, json: this.jsonMode });
        this.#sseOpenedAt = Date.now();
        continue;
      }
      const response = this.#pending ?? (await this.#request(step));
      this.#pending = null;
      this.#adopt(response);
      const payload = Payload.ofBytes(new Uint8Array(await response.arrayBuffer()));
      const batch = this.#commit(payload, reportOf(response));
      if (batch) return batch;
    }
  }

  /**
   * Whether SSE data events carry base64. The server says so with a header,
   * but a browser hides that header cross-origin unless the server exposes it
   * (not every server does), so without it: base64 unless the stream's
   * content type is one SSE carries as text.
   */
  #sseBase64(response: Response): boolean {
    const encoding = response.headers.get(HEADER.streamSseDataEncoding);
    if (encoding !== null) return encoding.trim().toLowerCase() === "base64";
    return this.contentType !== undefined && !isTextContentType(this.contentType);
  }

  /** Stops any open SSE connection (the caller aborts in-flight fetches). */
  close(reason?: unknown): void {
    this.#sse?.cancel(reason);
    this.#sse = null;
    this.#pending = null;
  }

  async #readSse(reader: SseBatchReader): Promise<Batch | null> {
    const read = await reader.next();
    if (read.kind === "batch") {
      this.#retries.reset();
      const batch = this.#commit(read.payload, read.report);
      if (this.state.streamClosed) this.close();
      return batch;
    }
    // The connection ended: cleanly (servers close SSE periodically) or not.
    // Either way the read resumes from the last committed offset, with a
    // catch-up GET first: it fetches whatever piled up in one (cacheable)
    // response, so progress never depends on a long-lived connection.
    this.#sse = null;
    this.state = connectionEnded(this.state);
    this.#throwIfAborted();
    const short = Date.now() - this.#sseOpenedAt < this.#resilience.minConnectionDuration;
    this.#shortConnections = short ? this.#shortConnections + 1 : 0;
    if (read.error !== undefined) {
      await this.#recover(networkError(this.#config.url, read.error), true);
    } else if (short) {
      await this.#afterShortConnection();
    }
    return null;
  }

  /**
   * A connection that ended young: wait a little, and after too many in a row
   * (a buffering proxy, say) stop using SSE for this read.
   */
  async #afterShortConnection(): Promise<void> {
    const { maxShortConnections, backoffBaseDelay, backoffMaxDelay, logWarnings } = this.#resilience;
    if (this.#shortConnections >= maxShortConnections) {
      this.#transport = "long-poll";
      if (logWarnings) {
        console.warn(`[rill] ${this.#shortConnections} short SSE connections in a row to ${this.#config.url}; using long-poll instead`);
      }
      return;
    }
    const delay = backoffDelay(this.#shortConnections - 1, { initialDelay: backoffBaseDelay, maxDelay: backoffMaxDelay, multiplier: 2 });
    await sleep(delay, this.#config.signal);
  }

  #commit(payload: Payload, report: PositionReport): Batch | null {
    this.state = advance(this.state, report);
    if (!worthDelivering(this.#delivered, this.state, payload.hasContent(this.jsonMode))) return null;
    this.#delivered = this.state;
    return { ...this.state, payload };
  }

  #adopt(response: Response): void {
    this.lastResponse = response;
    const type = response.headers.get(HEADER.contentType);
    if (type && !/text\/event-stream/i.test(type)) {
      this.contentType = type;
      this.jsonMode = this.#config.jsonHint || isJsonContentType(type);
    } else if (this.#config.jsonHint) {
      this.jsonMode = true;
    }
  }

  /**
   * One GET, with the onError loop around it: the handler may return new
   * headers/params to retry with, or nothing to give up.
   */
  async #request(step: "catch-up" | LiveTransport): Promise<Response> {
    for (;;) {
      try {
        const [headers, params] = await Promise.all([resolveHeaders(this.#headers), resolveParams(this.#params)]);
        const live = step === "catch-up" ? undefined : step === "sse" ? LIVE_MODE.sse : LIVE_MODE.longPoll;
        const url = buildUrl(this.#config.url, params, {
          [QUERY.offset]: this.state.offset,
          [QUERY.live]: live,
          [QUERY.cursor]: live ? this.state.cursor : undefined,
        });
        const fetcher = step === "sse" ? this.#streamingFetch : this.#bufferedFetch;
        const response = await fetcher(url, { method: "GET", headers, signal: this.#config.signal });
        // An SSE connection only counts as progress once it delivers something.
        if (step !== "sse") this.#retries.reset();
        return response;
      } catch (error) {
        this.#throwIfAborted();
        if (isAbortError(error)) throw error;
        if (this.#skipsRetained(error)) continue;
        // The fetch layer already retried what it could: this one is for onError.
        await this.#recover(error, false);
      }
    }
  }

  /** With `onRetained: "skip-to-earliest"`, a 410 for a retained offset moves the read to the earliest one. */
  #skipsRetained(error: unknown): boolean {
    if (this.#config.onRetained !== "skip-to-earliest" || !(error instanceof RetainedOffsetError)) return false;
    if (error.earliestOffset <= this.state.offset) return false; // no progress: report it instead
    this.state = { ...this.state, offset: error.earliestOffset, upToDate: false };
    return true;
  }

  /**
   * Decides what follows a failure: a plain retry (when `retryHere` and
   * retries remain), else whatever onError says. Returns after the backoff
   * wait to retry; throws to give up.
   */
  async #recover(error: unknown, retryHere: boolean): Promise<void> {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (!retryHere || this.#retries.spent) {
      if (!this.#config.onError) throw failure;
      const retry = await this.#config.onError(failure);
      if (!retry || typeof retry !== "object") throw failure;
      if (retry.headers) this.#headers = { ...this.#headers, ...retry.headers };
      if (retry.params) this.#params = { ...this.#params, ...retry.params };
    }
    await this.#retries.wait(this.#config.signal);
  }

  #throwIfAborted(): void {
    if (this.#config.signal.aborted) {
      throw new DurableStreamError("Read session cancelled", "ABORTED", undefined, undefined, { cause: this.#config.signal.reason });
    }
  }
}

function reportOf(response: Response): PositionReport {
  const headers = response.headers;
  return {
    offset: headers.get(HEADER.streamNextOffset) ?? undefined,
    cursor: headers.get(HEADER.streamCursor) ?? undefined,
    upToDate: headers.has(HEADER.streamUpToDate) && headers.get(HEADER.streamUpToDate) !== "false",
    streamClosed: headers.get(HEADER.streamClosed)?.toLowerCase() === "true",
  };
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
