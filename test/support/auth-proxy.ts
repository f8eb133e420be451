import { createServer, request, Agent, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A forwarding proxy that signs requests in: it adds `Authorization` to each
 * request that has none (requests that carry their own, such as a
 * subscription consumer's, pass unchanged) and streams everything else
 * through both ways, Host included, so that the URLs a server hands out point
 * back at the proxy.
 */
export interface AuthProxy {
  url: string;
  close(): Promise<void>;
}

export async function startAuthProxy(upstream: string, authorization: () => string): Promise<AuthProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  // Idle client connections outlive the client's own keep-alive guess (undici reuses one for up to
  // ~4 s); at Node's default of 5 s a loaded machine can close one just as it is reused (ECONNRESET).
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const headers = { ...req.headers };
    if (headers.authorization === undefined) headers.authorization = authorization();
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
        answer.pipe(res);
        answer.on("error", () => res.destroy());
      },
    );
    forwarded.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    // A client that goes away (an aborted SSE or long-poll read) ends the upstream request too.
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
