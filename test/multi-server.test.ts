import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { BIN, freePort, serve } from "./support/serve.js";

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

/** Tails the stream over long-poll, moving to the next server whenever one fails. */
async function longPollReader(first: number, done: () => boolean): Promise<string> {
  let content = "";
  let offset = "-1";
  let at = first;
  for (;;) {
    let res: Response;
    let body: string;
    try {
      res = await fetch(`${streamUrl(nodes[at]!)}?offset=${offset}&live=long-poll`);
      body = await res.text();
    } catch {
      if (done()) throw new Error("long-poll reader: servers gone before the stream closed");
      at = (at + 1) % nodes.length;
      await sleep(50);
      continue;
    }
    if (res.status !== 200 && res.status !== 204) throw new Error(`long-poll reader: HTTP ${res.status} ${body}`);
    content += body;
    offset = res.headers.get("stream-next-offset") ?? offset;
    if (res.headers.get("stream-closed") === "true" && res.headers.get("stream-up-to-date") === "true") return content;
  }
}

/** Tails the stream over SSE, reconnecting (to the next server) from the last control offset. */
async function sseReader(first: number, done: () => boolean): Promise<string> {
  let content = "";
  let offset = "-1";
  let at = first;
  for (;;) {
    let pending = "";
    try {
      const res = await fetch(`${streamUrl(nodes[at]!)}?offset=${offset}&live=sse`);
      if (res.status !== 200) throw new Error(`sse reader: HTTP ${res.status} ${await res.text()}`);
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "";
          const data: string[] = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5));
          }
          if (event === "data") pending += data.join("\n");
          if (event === "control") {
            // Data counts once its control event (with the offset after it) arrived.
            const control = JSON.parse(data.join("\n")) as { streamNextOffset: string; upToDate?: boolean; streamClosed?: boolean };
            content += pending;
            pending = "";
            offset = control.streamNextOffset;
            if (control.streamClosed) return content;
          }
        }
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("sse reader:")) throw error;
    }
    // The connection ended (recycled, or the server died): resume from the last offset.
    if (done() && nodes.every((n) => !n.child)) throw new Error("sse reader: servers gone before the stream closed");
    at = (at + 1) % nodes.length;
    await sleep(50);
  }
}

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
    const readers = [
      sseReader(1, () => finished),
      sseReader(2, () => finished),
      longPollReader(2, () => finished),
      longPollReader(0, () => finished),
    ];

    const acks: { producer: string; seq: number }[] = [];
    const failures: string[] = [];
    let retriesElsewhere = 0;
    let duplicates = 0;
    const began = performance.now();
    const produce = async (id: string) => {
      for (let seq = 0; seq < MESSAGES_PER_PRODUCER; seq++) {
        let target = pick(nodes);
        for (let attempt = 0; ; attempt++) {
          if (attempt > 200) {
            failures.push(`${id}:${seq} never acknowledged`);
            return;
          }
          let res: Response;
          let text: string;
          try {
            res = await fetch(streamUrl(target), {
              method: "POST",
              headers: { "content-type": "text/plain", "producer-id": id, "producer-epoch": "0", "producer-seq": String(seq) },
              body: `${id}:${seq};`,
            });
            text = await res.text();
          } catch {
            // Connection refused or reset: the same seq goes to another server.
            target = pick(nodes.filter((n) => n !== target));
            retriesElsewhere++;
            await sleep(5);
            continue;
          }
          if (res.status === 200 || res.status === 204) {
            if (res.status === 204) duplicates++;
            acks.push({ producer: id, seq });
            break;
          }
          if (res.status >= 500) {
            target = pick(nodes.filter((n) => n !== target));
            await sleep(20);
            continue;
          }
          failures.push(`${id}:${seq}: HTTP ${res.status} ${text}`);
          return;
        }
      }
    };
    const producers = Promise.all(PRODUCERS.map(produce));

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
        `${retriesElsewhere} retried on another server, ${duplicates} answered as duplicates`,
    );
    for (const content of seen) expect(content).toBe(stream);
    expect(nodes[1]!.lives).toBe(2);
    // The kill landed on live traffic: some requests had to be retried on another server.
    expect(retriesElsewhere).toBeGreaterThan(0);
  },
  60_000,
);
