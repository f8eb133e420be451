import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { startServer, type RunningServer, type ServerLimits } from "@rill/server";
import { RawSseReader, sleep } from "./support.js";

// Requests that trickle in are cut off; long-lived responses are not.
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(limits: Partial<ServerLimits>, longPollTimeoutMs?: number) {
  server = await startServer({ port: 0, memory: true, limits, longPollTimeoutMs });
  return { server, port: Number(new URL(server.url).port) };
}

async function create(url: string) {
  expect((await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);
}

/** Opens a raw connection; resolves with everything the server sent and when it closed the connection. */
function rawConnection(port: number) {
  const socket = connect(port, "127.0.0.1");
  let answer = "";
  socket.setEncoding("utf8").on("data", (text: string) => (answer += text));
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  return { socket, closed, answer: () => answer };
}

it("closes a connection whose request head trickles in, within the head timeout, while an SSE reader keeps receiving", { timeout: 30_000 }, async () => {
  const { server, port } = await start({ headersTimeoutMs: 2_000 });
  const url = `${server.streamsUrl}/ticker`;
  await create(url);

  const arrivals: number[] = [];
  const reader = new RawSseReader(port, "/v1/stream/ticker?offset=-1&live=sse", (event) => {
    if (event.event === "data") arrivals.push(Date.now());
  });
  await reader.ready;
  let appending = true;
  let appended = 0;
  const appender = (async () => {
    while (appending) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: `tick ${appended}\n` });
      expect(res.status).toBe(204);
      appended++;
      await sleep(100);
    }
  })();

  const head = "GET /v1/stream/ticker?offset=-1 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + "z".repeat(64) + "\r\n\r\n";
  const trickle = rawConnection(port);
  const startedAt = Date.now();
  let sent = 0;
  const dripper = setInterval(() => {
    if (trickle.socket.writable && sent < head.length) trickle.socket.write(head[sent++]!);
  }, 1_000);
  const closedAt = await trickle.closed;
  clearInterval(dripper);
  const heldMs = closedAt - startedAt;
  // Keep the reader going past the cut, to show the timeout never touched it.
  await sleep(1_500);
  appending = false;
  await appender;
  await sleep(300);
  reader.socket.destroy();

  expect(heldMs).toBeGreaterThanOrEqual(1_500);
  expect(heldMs).toBeLessThan(5_000);
  expect(sent).toBeLessThan(head.length);
  expect(trickle.answer()).toMatch(/^HTTP\/1\.1 408 /);
  expect(JSON.parse(trickle.answer().split("\r\n\r\n")[1]!).error.code).toBe("REQUEST_TIMEOUT");
  // Data reached the reader all along: no gap of a second anywhere, and every append arrived.
  expect(arrivals.length).toBeGreaterThanOrEqual(appended);
  const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
  expect(Math.max(...gaps)).toBeLessThan(1_000);
  expect(arrivals[arrivals.length - 1]! - arrivals[0]!).toBeGreaterThan(heldMs);
});

it("answers 408 to a request body that stops arriving, and stores nothing of it", { timeout: 20_000 }, async () => {
  const { server, port } = await start({ bodyTimeoutMs: 1_000 });
  const url = `${server.streamsUrl}/stalled-body`;
  await create(url);
  const conn = rawConnection(port);
  const startedAt = Date.now();
  conn.socket.write("POST /v1/stream/stalled-body HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nonly ten b");
  const closedAt = await conn.closed;
  expect(closedAt - startedAt).toBeGreaterThanOrEqual(900);
  expect(closedAt - startedAt).toBeLessThan(3_000);
  expect(conn.answer()).toMatch(/^HTTP\/1\.1 408 /);
  expect(JSON.parse(conn.answer().split("\r\n\r\n")[1]!).error.code).toBe("REQUEST_TIMEOUT");
  expect(await (await fetch(url)).text()).toBe("");
});

it("lets a streamed body that keeps flowing take longer than both timeouts", { timeout: 20_000 }, async () => {
  const { server } = await start({ bodyTimeoutMs: 1_000, headersTimeoutMs: 1_000 });
  const url = `${server.streamsUrl}/slow-upload`;
  await create(url);
  const pieces = Array.from({ length: 10 }, (_, i) => `piece ${i};`);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "text/plain", "transfer-encoding": "chunked" } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on("error", reject);
    let i = 0;
    const next = () => {
      if (i === pieces.length) return req.end();
      req.write(pieces[i++]);
      setTimeout(next, 300);
    };
    next();
  });
  expect(status).toBe(204);
  expect(await (await fetch(url)).text()).toBe(pieces.join(""));
});

it("does not cut a long-poll that waits longer than the head and body timeouts", { timeout: 20_000 }, async () => {
  const { server } = await start({ bodyTimeoutMs: 500, headersTimeoutMs: 500 }, 2_000);
  const url = `${server.streamsUrl}/waiting`;
  await create(url);
  const startedAt = Date.now();
  const poll = fetch(`${url}?offset=-1&live=long-poll`);
  await sleep(1_500);
  await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "late news" });
  const res = await poll;
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("late news");
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_400);
});

it("closes a keep-alive connection left idle past the keep-alive timeout", { timeout: 20_000 }, async () => {
  const { port } = await start({ keepAliveTimeoutMs: 500 });
  const conn = rawConnection(port);
  conn.socket.write("GET /v1/stream/none HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  while (!conn.answer().includes("\r\n\r\n")) await sleep(10);
  const answeredAt = Date.now();
  expect(conn.answer()).toMatch(/^HTTP\/1\.1 404 /);
  const closedAt = await conn.closed;
  expect(closedAt - answeredAt).toBeGreaterThanOrEqual(400);
  expect(closedAt - answeredAt).toBeLessThan(2_000);
});

it("does not count the idle time of a keep-alive connection against the head timeout", { timeout: 20_000 }, async () => {
  const { port } = await start({ headersTimeoutMs: 500, keepAliveTimeoutMs: 5_000 });
  const conn = rawConnection(port);
  conn.socket.write("GET /v1/stream/none HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  while (!/^HTTP\/1\.1 404 [^]*\r\n\r\n[^]*\}$/.test(conn.answer())) await sleep(10);
  await sleep(1_500);
  conn.socket.write("GET /v1/stream/still-none HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  while (!conn.answer().includes("still-none")) await sleep(10);
  expect(conn.answer().match(/HTTP\/1\.1 404 /g)).toHaveLength(2);
  conn.socket.destroy();
});

it("drops, at recycling time, an SSE connection still stuck behind its backlog", { timeout: 20_000 }, async () => {
  server = await startServer({ port: 0, memory: true, sseRecycleMs: 2_500, limits: { maxPendingOutputBytes: 64 * 1024 } });
  const port = Number(new URL(server.url).port);
  const url = `${server.streamsUrl}/stuck`;
  await create(url);
  const serverSockets: Socket[] = [];
  server.http.on("connection", (socket: Socket) => serverSockets.push(socket));
  const reader = new RawSseReader(port, "/v1/stream/stuck?offset=-1&live=sse", () => undefined);
  await reader.ready;
  reader.socket.pause();
  const readerSocket = serverSockets.find((socket) => socket.remotePort === reader.socket.localPort)!;
  const appended = Date.now();
  for (let i = 0; i < 16; i++) {
    await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(1024 * 1024) });
  }
  expect(Date.now() - appended).toBeLessThan(2_000);
  expect([readerSocket.destroyed, readerSocket.writableLength > 0]).toEqual([false, true]);
  await expect.poll(() => readerSocket.destroyed, { timeout: 5_000 }).toBe(true);
  reader.socket.destroy();
});
