import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { expect, it } from "vitest";
import { ConnectionGuard } from "./connection-guard.js";

/** Opens a raw connection and reports what the server sent before closing it. */
function open(port: number) {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.setEncoding("utf8").on("data", (text: string) => (received += text));
  socket.on("error", () => undefined);
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(received)));
  return { socket, closed };
}

it("closes a refused connection without a byte when the listener cannot speak plain HTTP/1.1 first", async () => {
  const server = createServer((_req, res) => res.end("served"));
  const guard = new ConnectionGuard(1, 0, false);
  guard.attach(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const admitted = open(port);
    await new Promise((resolve) => admitted.socket.once("connect", resolve));
    await expect.poll(() => guard.open).toBe(1);
    const refused = open(port);
    expect(await refused.closed).toBe("");
    admitted.socket.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(await admitted.closed).toMatch(/^HTTP\/1\.1 200 [^]*served$/);
    await expect.poll(() => guard.open).toBe(0);
  } finally {
    server.close();
  }
});
