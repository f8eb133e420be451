import type { IncomingMessage, ServerResponse } from "node:http";
import { ProtocolError } from "../domain/errors.js";
import { sendError } from "./respond.js";

interface Watched {
  res: ServerResponse;
  /** Bytes the connection had read when progress was last seen. */
  bytesRead: number;
  since: number;
}

/**
 * Cuts off request bodies that stop arriving. The bound is on idleness, not
 * on the whole body: a long streamed upload that keeps sending is never cut,
 * while one that sends nothing for `timeoutMs` gets 408 and its connection is
 * closed. Requests without a body (every GET, so SSE and long-poll) are
 * complete as soon as their head is, and are never watched.
 *
 * Progress is the connection's byte count, checked from one interval for all
 * requests. A body the server itself is not reading (its buffer is full) is
 * not the client's fault and does not count as idle.
 */
export class BodyWatchdog {
  private readonly watched = new Map<IncomingMessage, Watched>();
  private readonly timer: NodeJS.Timeout | null;

  constructor(private readonly timeoutMs: number) {
    this.timer = timeoutMs > 0 ? setInterval(() => this.check(Date.now()), Math.max(50, Math.min(1_000, timeoutMs / 4))) : null;
    this.timer?.unref();
  }

  track(req: IncomingMessage, res: ServerResponse): void {
    if (this.timer === null || req.complete || hasNoBody(req)) return;
    this.watched.set(req, { res, bytesRead: req.socket.bytesRead, since: Date.now() });
    // A body that ended is dropped by the next check; the entry goes for good when the exchange is over
    // ('close' comes once: a plain listener, without once()'s wrapper).
    res.on("close", () => this.watched.delete(req));
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.watched.clear();
  }

  private check(now: number): void {
    for (const [req, entry] of this.watched) {
      const bytesRead = req.socket.bytesRead;
      if (req.complete || req.destroyed) {
        this.watched.delete(req);
      } else if (bytesRead !== entry.bytesRead || req.readableLength > 0) {
        entry.bytesRead = bytesRead;
        entry.since = now;
      } else if (now - entry.since >= this.timeoutMs) {
        this.watched.delete(req);
        this.cutOff(req, entry.res);
      }
    }
  }

  private cutOff(req: IncomingMessage, res: ServerResponse): void {
    const error = new ProtocolError(
      "REQUEST_TIMEOUT",
      `the request body stalled: no bytes arrived for ${this.timeoutMs} ms`,
      { closeConnection: true },
    );
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    res.once("finish", () => req.socket.destroy());
    sendError(res, error);
  }
}

/**
 * An HTTP/1.x request with neither Content-Length nor Transfer-Encoding has
 * no body (RFC 9112 §6.3), nor does one with Content-Length: 0. Node emits
 * 'request' before it has seen the end of even an empty message, so without
 * this every GET (SSE and long-poll readers included, for as long as they
 * stay connected) would carry the watchdog's listeners. HTTP/2 frames bodies
 * itself, so its requests are always watched until they end.
 */
function hasNoBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor !== 1) return false;
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] === undefined && (length === undefined || length === "0");
}
