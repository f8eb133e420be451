import { nextCursor } from "@rill/protocol";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LiveEvent } from "../engine/live-hub.js";
import type { StreamState } from "../domain/model.js";
import type { HttpContext } from "./context.js";
import { failLiveRead, type LiveSession } from "./live-sessions.js";
import { sseControlEvent, sseDataEvent, sseHeaders } from "./read-encoding.js";
import { sseBytes, sseFrames, sseReadersDropped, sseReadersPaused } from "../metrics/http-metrics.js";
import type { Writable } from "node:stream";
import { isHttp2, startStream } from "./respond.js";

/**
 * One SSE reader.
 *
 *   start ──► catch up from the store (data+control per read) ──► live
 *   live: each committed append arrives from the hub; when it continues
 *   exactly where this reader is, its pre-encoded frame (shared by every
 *   reader of the stream) is written; otherwise the reader catches up from
 *   the store again. A closed stream ends after its final control event;
 *   every connection is recycled after `sseRecycleMs` (checked by the
 *   shared ticker of LiveSessions, so a reader costs no timers of its own),
 *   and ended by the same ticker once the token that authorized it expires
 *   (the client reconnects, gets a 401 and refreshes its token). A failure
 *   ends the response by the live readers' one error policy (failLiveRead).
 *
 * A reader that stops draining its socket must not make the server hold
 * every frame for it: once more than `maxPendingOutputBytes` wait on its
 * connection, it is pushed nothing more. Its position stays at the last byte
 * written, so when the socket drains it catches up from the store and sees
 * every byte once, in order.
 */
export class SseSession implements LiveSession {
  readonly mode = "sse";
  private position: number;
  private stream: StreamState;
  private pumping = false;
  private corked = false;
  private again = false;
  private ended = false;
  private unsubscribe: () => void = () => undefined;
  private readonly startedAt = Date.now();
  private lastWriteAt = this.startedAt;
  /** Set while the pump waits for a backlogged socket to drain; resumes it. */
  private resume: (() => void) | null = null;
  /**
   * Where frames are written. Over HTTP/1.1 the body is the connection itself
   * (no chunked framing: startStream), so once the head is out, frames go to the
   * socket directly: the response's own write path corks the socket and defers
   * every write to a tick of its own, which is most of a delivery's JavaScript
   * cost in a fan-out. Over HTTP/2 the response is the stream's one writer.
   */
  private out: Writable;

  constructor(
    private readonly ctx: HttpContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    stream: StreamState,
    position: number,
    private readonly clientCursor: string | null,
    private readonly accessExpiresAt: number | null = null,
  ) {
    this.stream = stream;
    this.position = position;
    this.out = res;
  }

  get path(): string {
    return this.stream.path;
  }

  start(): void {
    startStream(this.res, 200, sseHeaders(this.stream));
    if (!isHttp2(this.res) && this.res.socket) this.out = this.res.socket;
    this.unsubscribe = this.ctx.engine.hub.subscribe(this.stream.path, (event, more) => this.onLiveEvent(event, more));
    // The client went away, or the connection failed under the response (a reset): nothing can be sent any more.
    const end = () => this.end();
    this.req.on("close", end);
    this.res.on("error", end);
    // Last: during shutdown, add() ends the session at once.
    this.ctx.live.add(this);
    void this.pump(true);
  }

  /** Called by the shared ticker: recycle old connections, end expired ones, keep idle ones alive. */
  tick(now: number): void {
    const expired = this.accessExpiresAt !== null && now >= this.accessExpiresAt;
    if (now - this.startedAt >= this.ctx.options.sseRecycleMs || expired) {
      // A reader still stuck behind its backlog would hold the connection for as long as it does not
      // read; it is dropped instead, and re-reads what it missed from its offset when it reconnects.
      const stuck = this.resume !== null;
      this.end();
      if (stuck) {
        this.res.destroy();
        sseReadersDropped.inc();
      }
    } else if (this.resume !== null) {
      // 'drain' is the usual wake-up; this covers a socket that emptied without one.
      if (!this.backlogged()) this.resume();
    } else if (now - this.lastWriteAt >= this.ctx.options.sseKeepAliveMs) this.write(": keep-alive\n\n");
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    this.ctx.live.delete(this);
    this.resume?.();
    if (!this.res.writableEnded) this.res.end();
  }

  /**
   * Frames handed over together (a reader the hub reached late) leave in one
   * socket write: the response is corked from the first until the last.
   */
  private onLiveEvent(event: LiveEvent, more: number): void {
    if (more > 0 && !this.corked) {
      this.corked = true;
      this.out.cork();
    }
    try {
      this.onEvent(event);
    } finally {
      if (more === 0 && this.corked) {
        this.corked = false;
        this.out.uncork();
      }
    }
  }

  private onEvent(event: LiveEvent): void {
    if (this.ended) return;
    if (event.gone) {
      this.end();
      return;
    }
    if (this.pumping || !event.data || event.start !== this.position || this.backlogged()) {
      void this.pump(false);
      return;
    }
    // The hot path of fan-out: no per-reader encoding and no per-reader copies.
    // Frames are built once per event (and per cursor value, which is the same
    // for every reader that did not echo a cursor of its own) and shared.
    const frames = event.memo("sse-frames", () => new Map<string | null, Buffer>());
    let frame = frames.get(this.clientCursor);
    if (frame === undefined) {
      const cursor = this.cursor();
      frame = Buffer.from(
        sseDataEvent(this.stream, event.data) + sseControlEvent(event.end, true, event.closed, cursor),
        "utf8",
      );
      frames.set(this.clientCursor, frame);
    }
    this.position = event.end;
    this.write(frame);
    if (event.closed) this.end();
  }

  /** Reads from the store until this reader is at the tail. */
  private async pump(initial: boolean): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.stream = await this.ctx.engine.live(this.stream.path);
        // Behind this reader's position: the stream was deleted and made anew (its gone notice still on its way).
        if (this.position > this.stream.tail) {
          this.end();
          break;
        }
        let first = initial;
        initial = false;
        while (!this.ended) {
          await this.drained();
          if (this.ended) break;
          const read = await this.ctx.engine.read(this.stream, this.position);
          // Nothing new, not even positions that compaction emptied.
          if (read.next === this.position && !first) break;
          first = false;
          let out = read.data.length > 0 ? sseDataEvent(this.stream, read.data) : "";
          out += sseControlEvent(read.next, read.upToDate, this.stream.closed, this.cursor());
          this.position = read.next;
          this.write(out);
          if (read.upToDate) break;
        }
        if (this.stream.closed && this.position >= this.stream.tail) this.end();
      } while (this.again && !this.ended);
    } catch (error) {
      failLiveRead(this.res, this, error);
      this.end();
    } finally {
      this.pumping = false;
    }
  }

  /** More output waits on this connection than a reader may have pending. */
  private backlogged(): boolean {
    return this.out.writableLength > this.ctx.options.maxPendingOutputBytes;
  }

  /** Resolves once the connection is below its output bound again (or the session ended). */
  private drained(): Promise<void> {
    if (!this.backlogged()) return Promise.resolve();
    sseReadersPaused.inc();
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.out.off("drain", wake);
        this.resume = null;
        resolve();
      };
      this.resume = wake;
      this.out.on("drain", wake);
    });
  }

  private cursor(): string {
    return nextCursor(this.clientCursor);
  }

  private write(text: string | Buffer): void {
    if (this.ended || this.res.writableEnded || this.out.destroyed) return;
    this.lastWriteAt = Date.now();
    this.out.write(text);
    sseFrames.inc();
    sseBytes.inc(typeof text === "string" ? Buffer.byteLength(text) : text.length);
  }
}
