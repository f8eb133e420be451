import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { ErrorCode } from "../domain/errors.js";
import { connectionsRefused } from "../metrics/http-metrics.js";
import { RETRY_AFTER_SECONDS } from "./limits.js";

/** How long a refused connection may linger for its client to read the answer before it is destroyed. */
const REFUSED_LINGER_MS = 2_000;

/**
 * Counts open connections, in total and per client address, and refuses
 * those past a limit before any request is parsed or routed: the answer is
 * one pre-built response (503, or 429 for the per-address limit, with
 * Retry-After and a JSON error body) written straight to the socket, which
 * is then closed. The socket is half-closed and left to drain for a moment
 * rather than destroyed at once, because destroying a socket with unread
 * request bytes resets it and the client would never see the answer.
 */
export interface ConnectionGuardOptions {
  /** Open connections in total (0: no limit). */
  maxConnections: number;
  /** Open connections from one client address (0: no limit). */
  maxPerAddress: number;
  /** CORS allows every origin (`*`): the refusal may say so, so browser scripts can read it. */
  anyOrigin: boolean;
  /**
   * False for listeners that speak TLS (or HTTP/2) on their raw sockets,
   * where an HTTP/1.1 answer cannot be written before the handshake: a
   * refused connection is then simply closed.
   */
  plainHttp: boolean;
}

export class ConnectionGuard {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly refused = new WeakSet<Socket>();
  private readonly busyAnswer: Buffer;
  private readonly perAddressAnswer: Buffer;

  constructor(private readonly options: ConnectionGuardOptions) {
    const { maxConnections, maxPerAddress, anyOrigin } = options;
    this.busyAnswer = rawError(
      503,
      "Service Unavailable",
      "TOO_MANY_CONNECTIONS",
      `the server has reached its limit of ${maxConnections} open connections`,
      anyOrigin,
    );
    this.perAddressAnswer = rawError(
      429,
      "Too Many Requests",
      "TOO_MANY_CONNECTIONS",
      `your address has reached the limit of ${maxPerAddress} open connections`,
      anyOrigin,
    );
  }

  /** Watches every connection of `server`; runs before the HTTP parser is attached. */
  attach(server: Server): void {
    server.prependListener("connection", (socket: Socket) => this.admit(socket));
  }

  /** True for a connection that was refused: its requests must not be served. */
  isRefused(socket: Socket): boolean {
    return this.refused.has(socket);
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? "";
    const fromAddress = this.perAddress.get(address) ?? 0;
    const { maxConnections, maxPerAddress } = this.options;
    if (maxConnections > 0 && this.total >= maxConnections) return this.refuse(socket, this.busyAnswer, "total");
    if (maxPerAddress > 0 && fromAddress >= maxPerAddress) return this.refuse(socket, this.perAddressAnswer, "per_address");
    this.total++;
    this.perAddress.set(address, fromAddress + 1);
    // 'close' comes once per socket: a plain listener, without once()'s wrapper objects per connection.
    socket.on("close", () => {
      this.total--;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
  }

  private refuse(socket: Socket, answer: Buffer, limit: "total" | "per_address"): void {
    this.refused.add(socket);
    connectionsRefused.at(limit).inc();
    if (!this.options.plainHttp) {
      socket.destroy();
      return;
    }
    socket.on("error", () => socket.destroy());
    socket.end(answer);
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }
}

/** A complete HTTP/1.1 error response in Rill's JSON error format, as bytes. */
function rawError(status: number, reason: string, code: ErrorCode, message: string, anyOrigin: boolean): Buffer {
  const body = JSON.stringify({ error: { code, message } });
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    "content-type: application/json",
    `content-length: ${Buffer.byteLength(body)}`,
    `retry-after: ${RETRY_AFTER_SECONDS.connections}`,
    "cache-control: no-store",
    ...(anyOrigin ? ["access-control-allow-origin: *"] : []),
    "connection: close",
  ];
  return Buffer.from(`${head.join("\r\n")}\r\n\r\n${body}`, "utf8");
}
