import { HEADER, nextCursor } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LiveEvent } from "../engine/live-hub.js";
import type { StreamState } from "../domain/model.js";
import { readBytes } from "../metrics/http-metrics.js";
import { tokenExpired } from "./authorize.js";
import { cacheControl } from "./cache-policy.js";
import type { HttpContext } from "./context.js";
import { failLiveRead, type LiveSession } from "./live-sessions.js";
import { readHeaders, responseBody } from "./read-encoding.js";
import { send } from "./respond.js";
import type { ReadResult } from "../engine/stream-reads.js";

/**
 * Bodies of reads that readers share (StreamReads hands every reader of one
 * range of one stream state the same outcome): framed once, not per reader.
 */
const sharedBodies = new WeakMap<ReadResult, Uint8Array>();

/**
 * One long-poll reader.
 *
 *   data after `position`, or the stream closed ──► answer at once
 *   otherwise wait: subscribe to the hub, look at the tail again (an append
 *   between the first look and the subscription is never missed), then the
 *   first of: a committed append (200), the timeout (204), the token's
 *   expiry (401: the client's token refresh takes over), the stream going
 *   away (404/410), the client leaving, or shutdown (answers what it has).
 *
 * The waiting reader keeps one timer of its own for the first of its
 * timeout and its token's expiry: when a long-poll answers is part of what
 * it promises, so it is not left to the shared ticker's coarser beat.
 */
export class LongPollSession implements LiveSession {
  readonly mode = "long-poll";
  private settled = false;
  private unsubscribe: () => void = () => undefined;
  private timer: NodeJS.Timeout | null = null;
  private answered: () => void = () => undefined;
  private readonly onClose = () => this.finish(() => undefined);

  constructor(
    private readonly ctx: HttpContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly stream: StreamState,
    /** Where the reader is: a message boundary, at most the tail. */
    private readonly position: number,
    private readonly clientCursor: string | null,
    /** When the request's token expires (ms since the epoch), or null. */
    private readonly accessExpiresAt: number | null = null,
  ) {}

  get path(): string {
    return this.stream.path;
  }

  /** Answers, at once or after waiting; resolves once the answer is sent (or the client left). */
  async run(): Promise<void> {
    if (this.position < this.stream.tail) return this.sendData(this.stream);
    if (this.stream.closed) return this.sendNothing(this.stream);
    this.ctx.live.admit(this.path);
    await new Promise<void>((resolve) => {
      this.answered = resolve;
      this.unsubscribe = this.ctx.engine.hub.subscribe(this.path, (event) => this.onEvent(event));
      const timeoutMs = this.ctx.options.longPollTimeoutMs;
      const expiresIn = this.accessExpiresAt === null ? Infinity : Math.max(0, this.accessExpiresAt - Date.now());
      this.timer =
        expiresIn < timeoutMs
          ? setTimeout(() => this.finish(() => Promise.reject(tokenExpired())), expiresIn)
          : setTimeout(() => this.answerNow(), timeoutMs);
      this.req.on("close", this.onClose);
      this.ctx.live.add(this);
      // The tail may have moved between the first look and the subscription.
      void this.recheck();
    });
  }

  /** Shutdown: answer with what there is now. */
  end(): void {
    this.answerNow();
  }

  private onEvent(event: LiveEvent): void {
    // Gone: the answer is the stream's state now (404/410, or a stream made anew at the path).
    if (event.gone) return this.answerNow();
    if (event.data && event.start === this.position) {
      // The common case: every waiter at the old tail gets the same body, built once.
      const data = event.data;
      return this.finish(() => {
        const current = { ...this.stream, tail: event.end, closed: event.closed };
        const body = event.memo("long-poll-body", () => responseBody(current, data));
        const headers = readHeaders(current, { next: event.end, upToDate: true }, this.cursor());
        headers[HEADER.cacheControl] = cacheControl("long-poll-data");
        send(this.res, 200, headers, body);
        readBytes.at("long-poll").inc(body.length);
      });
    }
    void this.recheck();
  }

  /**
   * Looks at the stream again: answers when there is something to say, else
   * keeps waiting (an event without data, e.g. another server's resync
   * notice, may well announce nothing new for this reader).
   */
  private async recheck(): Promise<void> {
    try {
      const fresh = await this.ctx.engine.live(this.path);
      if (fresh.tail > this.position) this.finish(() => this.sendData(fresh));
      else if (fresh.closed) this.finish(() => this.sendNothing(fresh));
    } catch (error) {
      this.finish(() => Promise.reject(error));
    }
  }

  private answerNow(): void {
    this.finish(async () => {
      const fresh = await this.ctx.engine.live(this.path);
      if (fresh.tail > this.position) return this.sendData(fresh);
      return this.sendNothing(fresh);
    });
  }

  /** Stops waiting (once) and runs the answer; a failure is answered by the live readers' error policy. */
  private finish(answer: () => Promise<void> | void): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.unsubscribe();
    this.ctx.live.delete(this);
    this.req.off("close", this.onClose);
    Promise.resolve()
      .then(answer)
      .catch((error: unknown) => failLiveRead(this.res, this, error))
      .finally(this.answered);
  }

  private async sendData(stream: StreamState): Promise<void> {
    const read = await this.ctx.engine.read(stream, this.position);
    const headers = readHeaders(stream, read, this.cursor());
    headers[HEADER.cacheControl] = cacheControl("long-poll-data");
    let body = sharedBodies.get(read);
    if (body === undefined) sharedBodies.set(read, (body = responseBody(stream, read.data)));
    send(this.res, 200, headers, body);
    readBytes.at("long-poll").inc(body.length);
  }

  /** 204: nothing new (or the stream is closed and fully read). */
  private sendNothing(stream: StreamState): void {
    const headers = readHeaders(stream, { next: stream.tail, upToDate: true }, this.cursor());
    headers[HEADER.cacheControl] = cacheControl("long-poll-empty");
    send(this.res, 204, headers);
  }

  private cursor(): string {
    return nextCursor(this.clientCursor);
  }
}
