import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { BIN, freePort, serve } from "./support/serve.js";

// Durability under SIGKILL: idempotent producers append to a server on the
// SQLite store while the test kills it at random moments and restarts it on
// the same data directory. Whatever the server acknowledged must survive,
// exactly once, in each producer's order, at the offsets it reported.

const KILLS = 6;
const PRODUCERS = [
  { id: "A", stream: "crash-one" },
  { id: "B", stream: "crash-one" },
  { id: "C", stream: "crash-one" },
  { id: "D", stream: "crash-two" },
  { id: "E", stream: "crash-two" },
];
const STREAMS = [...new Set(PRODUCERS.map((p) => p.stream))];

interface Message {
  p: string;
  n: number;
}

interface Ack {
  producer: string;
  stream: string;
  seq: number;
  /** Stream-Next-Offset of a 200 (new data); null for a 204 (already stored). */
  offset: string | null;
  /** Which server process answered. */
  life: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dataDir: string | undefined;
let server: ChildProcess | undefined;

afterAll(async () => {
  if (server) await kill(server);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function start(port: number, dir: string): Promise<ChildProcess> {
  const { child } = await serve(["--port", String(port), "--host", "127.0.0.1", "--data-dir", dir], { timeoutMs: 10_000 });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

/** Every message of a stream, read page by page from the beginning. */
async function readAll(url: string): Promise<Message[]> {
  const messages: Message[] = [];
  let offset = "-1";
  for (;;) {
    const res = await fetch(`${url}?offset=${offset}`);
    expect(res.status).toBe(200);
    messages.push(...((await res.json()) as Message[]));
    if (res.headers.get("stream-up-to-date") === "true") return messages;
    offset = res.headers.get("stream-next-offset")!;
  }
}

it(
  "keeps every acknowledged append, once and in order, through repeated SIGKILLs",
  async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    dataDir = await mkdtemp(join(tmpdir(), "rill-crash-"));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/v1/stream`;
    let life = 0;
    server = await start(port, dataDir);
    for (const stream of STREAMS) {
      const res = await fetch(`${base}/${stream}`, { method: "PUT", headers: { "content-type": "application/json" } });
      expect(res.status).toBe(201);
    }

    const acks: Ack[] = [];
    const failures: string[] = [];
    let stopping = false;
    /** Set when the test fails midway, so no producer keeps retrying against a dead server. */
    let abandoned = false;

    // One request in flight per producer; a network error (the server died
    // or is restarting) retries the same seq until the server answers.
    const produce = async ({ id, stream }: (typeof PRODUCERS)[number]) => {
      for (let seq = 0; !stopping; seq++) {
        for (;;) {
          let res: Response;
          let text: string;
          try {
            res = await fetch(`${base}/${stream}`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                "producer-id": id,
                "producer-epoch": "0",
                "producer-seq": String(seq),
              },
              body: JSON.stringify({ p: id, n: seq } satisfies Message),
            });
            text = await res.text();
          } catch {
            if (abandoned) return;
            await sleep(10);
            continue;
          }
          if (res.status === 200 || res.status === 204) {
            const offset = res.status === 200 ? res.headers.get("stream-next-offset") : null;
            acks.push({ producer: id, stream, seq, offset, life });
            break;
          }
          failures.push(`producer ${id} seq ${seq}: HTTP ${res.status} ${text}`);
          return;
        }
      }
    };
    const producers = PRODUCERS.map(produce);

    try {
      for (let k = 0; k < KILLS; k++) {
        const before = acks.length;
        await sleep(150 + Math.random() * 600);
        // Kill on live traffic: wait until this server has acknowledged some appends.
        for (let waited = 0; acks.length < before + 20 && waited < 5000; waited += 10) await sleep(10);
        await kill(server);
        await sleep(Math.random() * 150);
        server = await start(port, dataDir);
        life++;
      }
      await sleep(300);
    } catch (error) {
      abandoned = true;
      throw error;
    } finally {
      stopping = true;
    }
    await Promise.all(producers);
    expect(failures).toEqual([]);
    expect(life).toBe(KILLS);

    for (const stream of STREAMS) {
      const messages = await readAll(`${base}/${stream}`);
      const index = new Map(messages.map((m, i) => [`${m.p}:${m.n}`, i]));

      // Each producer's messages are exactly seq 0, 1, 2, … up to its last
      // acknowledged one: every acknowledged message once, in order, nothing else.
      for (const { id } of PRODUCERS.filter((p) => p.stream === stream)) {
        const acked = acks.filter((a) => a.producer === id);
        const seqs = messages.filter((m) => m.p === id).map((m) => m.n);
        expect(acked.length).toBeGreaterThan(0);
        expect(seqs).toEqual(acked.map((a) => a.seq));
        expect(seqs).toEqual(seqs.map((_, i) => i));
      }

      // An offset handed out before a crash still starts right after the
      // message it acknowledged. Check the last acknowledgements of every
      // server life (the ones a crash endangers most) and a sample of the rest.
      const withOffsets = acks.filter((a) => a.stream === stream && a.offset !== null);
      const lastOfLife = new Set<Ack>();
      for (let l = 0; l <= life; l++) withOffsets.filter((a) => a.life === l).slice(-5).forEach((a) => lastOfLife.add(a));
      const sample = [...lastOfLife, ...withOffsets.filter(() => Math.random() < 150 / withOffsets.length)];
      for (const ack of sample) {
        const i = index.get(`${ack.producer}:${ack.seq}`)!;
        const res = await fetch(`${base}/${stream}?offset=${ack.offset}`);
        expect(res.status).toBe(200);
        const after = (await res.json()) as Message[];
        expect({ ack, after: after.slice(0, 3) }).toEqual({ ack, after: messages.slice(i + 1, i + 4) });
        expect(after).toEqual(messages.slice(i + 1, i + 1 + after.length));
      }
      expect(lastOfLife.size).toBeGreaterThanOrEqual(KILLS);
    }
  },
  60_000,
);
