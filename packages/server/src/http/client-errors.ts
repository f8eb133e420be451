import type { Duplex } from "node:stream";
import type { ErrorCode } from "../domain/errors.js";

/**
 * Answers what Node's HTTP parser refuses before a request reaches the
 * router (a head that took too long or grew too large, bytes that are not
 * HTTP) in Rill's JSON error format, then closes the connection.
 */
export function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  limits: { headersTimeoutMs: number; maxHeaderSize: number; anyOrigin: boolean },
): void {
  // A response already under way on this connection cannot be followed by another one.
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || current?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = describe(error.code, limits);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\n${limits.anyOrigin ? "access-control-allow-origin: *\r\n" : ""}connection: close\r\n\r\n${body}`,
  );
  // A client that keeps sending after the answer must not keep the socket.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

function describe(
  nodeCode: string | undefined,
  limits: { headersTimeoutMs: number; maxHeaderSize: number },
): [number, string, ErrorCode, string] {
  switch (nodeCode) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "Request Timeout", "REQUEST_TIMEOUT", `the request head was not complete within ${limits.headersTimeoutMs} ms`];
    case "HPE_HEADER_OVERFLOW":
      return [
        431,
        "Request Header Fields Too Large",
        "HEADERS_TOO_LARGE",
        `the request head is larger than the limit of ${limits.maxHeaderSize} bytes`,
      ];
    default:
      return [400, "Bad Request", "BAD_REQUEST", "malformed HTTP request"];
  }
}
