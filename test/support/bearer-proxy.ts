/**
 * A stand-in for a Rill server with access control, for browser tests: a
 * forwarding proxy that answers 401 with `WWW-Authenticate: Bearer` unless a
 * known token is sent, and 403 `insufficient_scope` when a read-only token
 * tries to write. The console's own files are served without a token, as
 * the page must load before it can ask for one.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface BearerProxy {
  origin: string;
  /** Live reads (SSE or long-poll) that arrived with an accepted token / without one. */
  authorizedLiveReads(): number;
  unauthorizedLiveReads(): number;
  close(): Promise<void>;
}

export async function startBearerProxy(upstream: string, tokens: { token: string; readOnlyToken: string }): Promise<BearerProxy> {
  const target = new URL(upstream);
  let authorizedLive = 0;
  let unauthorizedLive = 0;

  const deny = (res: ServerResponse, status: 401 | 403, challenge: string, message: string) => {
    res.writeHead(status, { "content-type": "application/json", "www-authenticate": challenge });
    res.end(JSON.stringify({ error: { code: status === 401 ? "UNAUTHORIZED" : "FORBIDDEN", message } }));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    const live = url.searchParams.has("live");
    if (!url.pathname.startsWith("/console")) {
      const header = req.headers.authorization ?? "";
      const token = /^Bearer (.+)$/.exec(header)?.[1];
      const known = token === tokens.token || token === tokens.readOnlyToken;
      if (live) known ? authorizedLive++ : unauthorizedLive++;
      if (!known) {
        const challenge = token === undefined ? 'Bearer realm="rill"' : 'Bearer realm="rill", error="invalid_token"';
        return deny(res, 401, challenge, token === undefined ? "a bearer token is required" : "the token is not valid");
      }
      if (token === tokens.readOnlyToken && !["GET", "HEAD", "OPTIONS"].includes(req.method ?? "GET")) {
        return deny(res, 403, 'Bearer realm="rill", error="insufficient_scope", scope="write:**"', "the token lacks write scope for this stream");
      }
    }
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (upstreamResponse) => {
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        res.flushHeaders();
        upstreamResponse.pipe(res);
      },
    );
    forwarded.on("error", () => res.destroy());
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizedLiveReads: () => authorizedLive,
    unauthorizedLiveReads: () => unauthorizedLive,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
