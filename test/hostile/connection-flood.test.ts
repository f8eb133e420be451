import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, expect, it } from "vitest";
import { serve } from "../support/serve.js";
import { rssOf, sleep, stopChild, watchRss } from "./support.js";

// More connections than the server allows, in total and from one address:
// the surplus is answered 503 / 429 and closed, the well-behaved client keeps
// being served on its connection (and on new ones once slots free up), the
// server's memory stays bounded and every acknowledged append is kept.

const MAX_CONNECTIONS = 60;
const PER_ADDRESS = 20;
// Far longer than the flood takes, even on a loaded machine, so that no held connection is cut (and its
// slot given to a later attempt) while the answers are counted. The cut itself: timeouts.test.ts.
const HEADERS_TIMEOUT_MS = 30_000;

let server: ChildProcess | undefined;
let dataDir: string | undefined;
const sockets: Socket[] = [];

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await stopChild(server);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Attempt {
  /** The status the server answered with, 0 while none. */
  status: number;
  body: string;
  closed: boolean;
}

/** A hostile connection from `localAddress`: sends the start of a request head and never finishes it. */
function slowloris(port: number, localAddress: string): Attempt {
  const attempt: Attempt = { status: 0, body: "", closed: false };
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  sockets.push(socket);
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
    const match = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(text);
    if (match) [attempt.status, attempt.body] = [Number(match[1]), match[2]!];
  });
  socket.on("error", () => undefined);
  socket.on("close", () => (attempt.closed = true));
  socket.on("connect", () => socket.write("GET /v1/stream/flood HTTP/1.1\r\nhost: 127.0.0.1\r\n"));
  return attempt;
}

const count = (attempts: Attempt[], status: number) => attempts.filter((a) => a.status === status).length;

it("answers a connection flood with 503/429, keeps serving a well-behaved client, stays small and loses nothing", { timeout: 90_000 }, async () => {
  dataDir = await mkdtemp(join(tmpdir(), "rill-flood-"));
  const started = await serve([
    "--port", "0", "--data-dir", dataDir, "--no-console",
    "--max-connections", String(MAX_CONNECTIONS),
    "--max-connections-per-ip", String(PER_ADDRESS),
    "--headers-timeout", `${HEADERS_TIMEOUT_MS}ms`,
  ]);
  server = started.child;
  const port = Number(new URL(started.origin).port);
  const url = `${started.origin}/v1/stream/flood`;

  // The well-behaved client: one keep-alive connection, opened before the flood.
  const agent = new Agent({ connections: 1, keepAliveTimeout: 60_000, pipelining: 1 });
  const acked: string[] = [];
  const appendOne = async (body: string) => {
    const res = await request(url, { method: "POST", headers: { "content-type": "text/plain" }, body, dispatcher: agent });
    await res.body.dump();
    if (res.statusCode === 204) acked.push(body);
    return res.statusCode;
  };
  const created = await request(url, { method: "PUT", headers: { "content-type": "text/plain" }, dispatcher: agent });
  await created.body.dump();
  expect(created.statusCode).toBe(201);
  expect(await appendOne("m0000;")).toBe(204);
  await sleep(200);
  const baseline = rssOf(server.pid!);
  const rss = watchRss(server.pid!);

  let appending = true;
  const statuses: number[] = [];
  const writer = (async () => {
    for (let n = 1; appending; n++) {
      // A failed request is recorded (as 0), not thrown, so the assertions below report it.
      statuses.push(await appendOne(`m${String(n).padStart(4, "0")};`).catch(() => 0));
      await sleep(20);
    }
  })();

  // Phase 1: one address opens ten times its allowance.
  const fromOne = Array.from({ length: PER_ADDRESS * 10 }, () => slowloris(port, "127.0.0.2"));
  await expect.poll(() => count(fromOne, 429), { timeout: 20_000 }).toBe(PER_ADDRESS * 9);
  // Phase 2: many addresses together open far more than the total allows.
  const fromMany: Attempt[] = [];
  for (let wave = 0; wave < 100; wave++) {
    for (let a = 3; a < 23; a++) fromMany.push(slowloris(port, `127.0.0.${a}`));
    await sleep(20);
  }
  const admittedFromMany = MAX_CONNECTIONS - 1 - PER_ADDRESS;
  await expect.poll(() => count(fromMany, 503) + count(fromMany, 429), { timeout: 20_000 }).toBe(fromMany.length - admittedFromMany);
  expect(count(fromMany, 503)).toBeGreaterThan(0);
  const refusal = JSON.parse(fromMany.find((a) => a.status === 503)!.body) as { error: { code: string } };
  expect(refusal.error.code).toBe("TOO_MANY_CONNECTIONS");
  // Refused connections are closed by the server, even though these clients never close them.
  await expect.poll(() => [...fromOne, ...fromMany].filter((a) => a.status !== 0 && !a.closed).length, { timeout: 5_000 }).toBe(0);

  // While the server is full, the well-behaved client's connection is still served.
  const beforeFull = statuses.length;
  await sleep(500);
  expect(statuses.length).toBeGreaterThan(beforeFull);
  // Exactly the allowed number of connections is held; once the attackers let go, new clients are served.
  const held = [...fromOne, ...fromMany].filter((a) => a.status === 0 && !a.closed);
  expect(held.length).toBe(MAX_CONNECTIONS - 1);
  const refusedNow = await fetch(`${url}?offset=-1`).then((res) => res.status, () => 0);
  expect(refusedNow).toBe(503);
  for (const socket of sockets) socket.destroy();
  await expect
    .poll(async () => fetch(`${url}?offset=-1`).then(async (res) => (await res.arrayBuffer(), res.status), () => 0), { timeout: 5_000 })
    .toBe(200);

  appending = false;
  await writer;
  rss.stop();
  const growth = rss.peak() - baseline;
  console.log(
    `connection flood: ${fromOne.length + fromMany.length} hostile connections (${count(fromOne, 429) + count(fromMany, 429)} × 429, ` +
      `${count(fromMany, 503)} × 503, ${held.length} held); the good client's ${statuses.length} appends all answered; ` +
      `server RSS +${(growth / 2 ** 20).toFixed(1)} MiB at peak`,
  );
  expect(statuses.every((s) => s === 204)).toBe(true);
  expect(growth).toBeLessThan(50 * 1024 * 1024);
  const stored = await (await fetch(`${url}?offset=-1`)).text();
  expect(stored).toBe(acked.join(""));
  await agent.close();
});
