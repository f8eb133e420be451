/**
 * A minimal HTTP load balancer for tests: each request goes to the next
 * upstream in turn, bodies and responses are streamed through unbuffered
 * (live reads work), and an upstream that refuses the connection answers 502.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RoundRobin {
  url: string;
  /** Requests sent to each upstream so far, in upstream order. */
  counts: number[];
  close(): Promise<void>;
}

/** Hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

export async function startRoundRobin(upstreams: readonly string[]): Promise<RoundRobin> {
  const counts = upstreams.map(() => 0);
  let next = 0;
  // Idle client connections outlive the client's keep-alive guess (see auth-proxy.ts).
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const index = next++ % upstreams.length;
    counts[index]! += 1;
    const target = new URL(req.url ?? "/", upstreams[index]);
    // A fresh upstream connection per request: reusing an idle one races the upstream closing it.
    const upstream = request(target, { method: req.method, headers: forwardable(req.headers), agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
      res.flushHeaders();
      answer.pipe(res);
    });
    upstream.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`upstream ${index}: ${error.message}`);
      else res.destroy();
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
