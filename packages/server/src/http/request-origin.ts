import type { IncomingMessage } from "node:http";

/**
 * The origin a client used to reach this server: its scheme (https when the
 * connection is TLS) and authority (the Host header over HTTP/1.1, the
 * `:authority` pseudo-header over HTTP/2, which has no Host).
 */
export function requestOrigin(req: IncomingMessage): string {
  const authority = req.headers.host ?? (req.headers[":authority"] as string | undefined) ?? "localhost";
  const secure = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  return `${secure ? "https" : "http"}://${authority}`;
}
