import type { ChildProcess } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { startNginx } from "../bench/lib/nginx.mjs";
import { adminQuery } from "../bench/lib/pg-admin.mjs";
import { newStats, produce } from "./support/raw-producer.js";
import { freePort, serve } from "./support/serve.js";
import { longPollReader, readWhole, sseReader, type TailTarget } from "./support/tail-readers.js";

// Three `rill serve --store postgres` servers behind nginx (round robin,
// keep-alive upstreams, no buffering): producers and live readers only ever
// talk to nginx. One server is SIGKILLed mid-run and started again; readers
// must see every message exactly once, in order, and the producers' every
// acknowledged message must be in the stream once.

const ADMIN_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DATABASE = `rill_lb_${process.pid}`;
const DATABASE_URL = Object.assign(new URL(ADMIN_URL), { pathname: `/${DATABASE}` }).toString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Upstream {
  port: number;
  child: ChildProcess | null;
}
const upstreams: Upstream[] = [];
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;

const admin = (sql: string): Promise<void> => adminQuery(ADMIN_URL, sql);

async function start(upstream: Upstream): Promise<void> {
  const args = ["--host", "127.0.0.1", "--port", String(upstream.port), "--store", "postgres", "--database-url", DATABASE_URL];
  upstream.child = (await serve([...args, "--long-poll-timeout", "2s"])).child;
}

async function kill(upstream: Upstream): Promise<void> {
  const child = upstream.child;
  upstream.child = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(upstreams.map(kill));
  await admin(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
});

it("behind nginx: producers and SSE/long-poll readers through a SIGKILL of one server", async () => {
  await admin(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
  await admin(`CREATE DATABASE "${DATABASE}"`);
  for (let i = 0; i < 3; i++) upstreams.push({ port: await freePort(), child: null });
  await Promise.all(upstreams.map(start));
  nginx = await startNginx(upstreams.map((upstream) => `http://127.0.0.1:${upstream.port}`));
  const url = `${nginx.url}/v1/stream/lb/events`;
  expect((await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);

  let finished = false;
  const target: TailTarget = { urls: [url], done: () => finished, anyUp: () => true };
  const readers = [sseReader(target, 0), sseReader(target, 0), longPollReader(target, 0), longPollReader(target, 0)];

  const stats = newStats();
  const ids = ["A", "B", "C", "D"];
  const perProducer = 100;
  const producers = Promise.all(ids.map((id) => produce({ id, count: perProducer, pick: () => url, stats })));
  while (stats.acks.length < (ids.length * perProducer) / 3 && stats.failures.length === 0) await sleep(5);
  await kill(upstreams[1]!);
  await sleep(300);
  await start(upstreams[1]!);
  await producers;
  expect(stats.failures).toEqual([]);
  expect(stats.hung).toBe(0);

  const closed = await fetch(url, { method: "POST", headers: { "stream-closed": "true" } });
  expect([200, 204]).toContain(closed.status);
  finished = true;

  const stream = await readWhole(url);
  const messages = stream.split(";").filter(Boolean).map((m) => m.split(":") as [string, string]);
  expect(messages).toHaveLength(ids.length * perProducer);
  for (const id of ids) {
    expect(messages.filter(([p]) => p === id).map(([, n]) => Number(n))).toEqual(Array.from({ length: perProducer }, (_, i) => i));
  }
  for (const content of await Promise.all(readers)) expect(content).toBe(stream);
  // The kill was felt by the proxy: it lost upstream connections or could not connect (it retries a request
  // on another server when the dead one refuses the connection, so clients may see no error at all).
  expect(await nginx.errorLog()).toMatch(/upstream|connect\(\) failed/);
}, 90_000);
