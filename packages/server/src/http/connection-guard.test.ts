import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { expect, it } from "vitest";
import { ConnectionGuard, type ConnectionGuardOptions } from "./connection-guard.js";

/** Opens a raw connection and reports what the server sent before closing it. */
function open(port: number) {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.setEncoding("utf8").on("data", (text: string) => (received += text));
  socket.on("error", () => undefined);
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(received)));
  return { socket, closed };
}

/** Sends one request on a new connection and gives back what came before the close. */
function request(port: number): Promise<string> {
  const attempt = open(port);
  attempt.socket.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
  return attempt.closed;
}

/** A listening server whose guard admits one connection at a time. */
async function oneConnectionServer(options: Pick<ConnectionGuardOptions, "anyOrigin" | "plainHttp">) {
  const server = createServer((_req, res) => res.end("served"));
  new ConnectionGuard({ maxConnections: 1, maxPerAddress: 0, ...options }).attach(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    /** Opens a connection and resolves once the server has seen it: the guard (a prepended listener) has then admitted it. */
    async admitOne() {
      const seen = new Promise<void>((resolve) => server.once("connection", () => resolve()));
      const admitted = open(port);
      await seen;
      return admitted;
    },
    close: () => server.close(),
  };
}

it("closes a refused connection without a byte when the listener cannot speak plain HTTP/1.1 first", async () => {
  const server = await oneConnectionServer({ anyOrigin: true, plainHttp: false });
  try {
    const admitted = await server.admitOne();
    const refused = open(server.port);
    expect(await refused.closed).toBe("");
    admitted.socket.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(await admitted.closed).toMatch(/^HTTP\/1\.1 200 [^]*served$/);
    // Its close frees the one place: the next connection is served (once the server has seen the close too).
    await expect.poll(() => request(server.port)).toMatch(/^HTTP\/1\.1 200 [^]*served$/);
  } finally {
    server.close();
  }
});

it("answers a refused connection with one pre-built 503, naming CORS only when every origin is allowed", async () => {
  for (const anyOrigin of [true, false]) {
    const server = await oneConnectionServer({ anyOrigin, plainHttp: true });
    try {
      const admitted = await server.admitOne();
      const refused = open(server.port);
      refused.socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
      const answer = await refused.closed;
      expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(answer).toMatch(/\r\nretry-after: 1\r\n/);
      expect(answer.includes("access-control-allow-origin: *")).toBe(anyOrigin);
      expect(JSON.parse(answer.split("\r\n\r\n")[1]!).error.code).toBe("TOO_MANY_CONNECTIONS");
      admitted.socket.destroy();
    } finally {
      server.close();
    }
  }
});
