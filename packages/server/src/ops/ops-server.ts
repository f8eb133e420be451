import { createServer, type Server } from "node:http";
import type { AddressInfo, Server as NetServer } from "node:net";
import type { ExtraRoute } from "../http/context.js";
import { routeNotFound, sendError } from "../http/respond.js";

/** http://host:port of a listening server (IPv6 hosts in brackets; any protocol: the caller names the scheme). */
export function originOf(server: NetServer): string {
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A second, private listener for operators (`--metrics-port`): only the
 * given routes (metrics, health), nothing of the streams API. Keep it off
 * the public network; scrapers and probes reach it directly.
 */
export async function listenOps(routes: ExtraRoute[], port: number, host: string): Promise<OpsServer> {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://ops.invalid");
      for (const handle of routes) if (await handle(req, res, url)) return;
      throw routeNotFound(`nothing at ${url.pathname} on the metrics port (try /metrics, /healthz, /readyz)`);
    } catch (error) {
      sendError(res, error);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    url: originOf(server),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
