import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { BIN, freePort, serve } from "./support/serve.js";
import { newStats, produce } from "./support/raw-producer.js";
import { longPollReader, sseReader, type TailTarget } from "./support/tail-readers.js";

// Scale-out: three `rill serve --store postgres` processes share one
// database. Idempotent producers write through random servers (a failed
// request is retried with the same seq, usually on another server) while SSE
// and long-poll readers tail the stream through the servers. One server is
// SIGKILLed mid-run and started again. At the end every acknowledged message
// is in the stream exactly once, in its producer's order, and every reader
// saw exactly the stream's bytes.

const ADMIN_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DATABASE = `rill_multi_${process.pid}`;
const DATABASE_URL = (() => {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  return url.toString();
})();
const SERVERS = 3;
const PRODUCERS = ["A", "B", "C", "D"];
const MESSAGES_PER_PRODUCER = 120;
const STREAM = "multi/server";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Node {
  port: number;
  url: string;
  child: ChildProcess | null;
  lives: number;
}

const nodes: Node[] = [];
let databaseCreated = false;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await Promise.all(nodes.map((node) => stop(node)));
  if (databaseCreated) await admin((c) => c.query(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`));
});

async function start(node: Node): Promise<void> {
  const { child } = await serve([
    "--host", "127.0.0.1", "--port", String(node.port), "--store", "postgres", "--database-url", DATABASE_URL,
    "--long-poll-timeout", "2s",
  ]);
  node.child = child;
  node.lives++;
}

async function stop(node: Node): Promise<void> {
  const child = node.child;
  node.child = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

const streamUrl = (node: Node) => `${node.url}/v1/stream/${STREAM}`;
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

it(
  "three servers on one database: exactly-once producers and exact readers through a SIGKILL",
  async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    await admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
      await c.query(`CREATE DATABASE "${DATABASE}"`);
    });
    databaseCreated = true;
    for (let i = 0; i < SERVERS; i++) {
      const port = await freePort();
      nodes.push({ port, url: `http://127.0.0.1:${port}`, child: null, lives: 0 });
    }
    // All three start at once: they race to migrate the fresh database.
    await Promise.all(nodes.map((node) => start(node)));

    const created = await fetch(streamUrl(nodes[0]!), { method: "PUT", headers: { "content-type": "text/plain" } });
    expect(created.status).toBe(201);

    let finished = false;
    const target: TailTarget = { urls: nodes.map(streamUrl), done: () => finished, anyUp: () => nodes.some((n) => n.child !== null) };
    const readers = [sseReader(target, 1), sseReader(target, 2), longPollReader(target, 2), longPollReader(target, 0)];

    const stats = newStats();
    const { acks, failures } = stats;
    const began = performance.now();
    const urls = nodes.map(streamUrl);
    const pickUrl = (avoid?: string) => pick(urls.filter((url) => url !== avoid));
    const producers = Promise.all(PRODUCERS.map((id) => produce({ id, count: MESSAGES_PER_PRODUCER, pick: pickUrl, stats })));

    // Kill server 1 on live traffic, then bring it back on the same port.
    const total = PRODUCERS.length * MESSAGES_PER_PRODUCER;
    while (acks.length < total / 3 && failures.length === 0) await sleep(5);
    await stop(nodes[1]!);
    await sleep(300);
    await start(nodes[1]!);

    await producers;
    const producedMs = performance.now() - began;
    expect(failures).toEqual([]);

    // Late retries of acknowledged appends (as after a lost response), through every server: all duplicates.
    for (const node of nodes) {
      for (const id of PRODUCERS) {
        const seq = Math.floor(Math.random() * MESSAGES_PER_PRODUCER);
        const res = await fetch(streamUrl(node), {
          method: "POST",
          headers: { "content-type": "text/plain", "producer-id": id, "producer-epoch": "0", "producer-seq": String(seq) },
          body: `${id}:${seq};`,
        });
        await res.arrayBuffer();
        expect(res.status).toBe(204);
      }
    }
    const closed = await fetch(streamUrl(pick(nodes)), { method: "POST", headers: { "stream-closed": "true" } });
    expect([200, 204]).toContain(closed.status);
    finished = true;

    // The whole stream, read through each server in turn: all agree.
    const contents: string[] = [];
    for (const node of nodes) {
      let content = "";
      let offset = "-1";
      for (;;) {
        const res = await fetch(`${streamUrl(node)}?offset=${offset}`);
        expect(res.status).toBe(200);
        content += await res.text();
        offset = res.headers.get("stream-next-offset")!;
        if (res.headers.get("stream-up-to-date") === "true") break;
      }
      contents.push(content);
    }
    expect(new Set(contents).size).toBe(1);
    const stream = contents[0]!;

    const messages = stream.split(";").filter(Boolean).map((m) => m.split(":") as [string, string]);
    expect(messages.length).toBe(total);
    for (const id of PRODUCERS) {
      const seqs = messages.filter(([p]) => p === id).map(([, n]) => Number(n));
      expect(seqs).toEqual(Array.from({ length: MESSAGES_PER_PRODUCER }, (_, i) => i));
      expect(acks.filter((a) => a.producer === id).map((a) => a.seq)).toEqual(seqs);
    }

    const seen = await Promise.all(readers);
    console.log(
      `multi-server: ${acks.length} appends acknowledged in ${producedMs.toFixed(0)} ms, ` +
        `${stats.retriesElsewhere} retried on another server, ${stats.duplicates} answered as duplicates`,
    );
    for (const content of seen) expect(content).toBe(stream);
    expect(nodes[1]!.lives).toBe(2);
    // The kill landed on live traffic: some requests had to be retried on another server.
    expect(stats.retriesElsewhere).toBeGreaterThan(0);
    expect(stats.hung).toBe(0);
  },
  60_000,
);
