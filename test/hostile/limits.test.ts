import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { DurableStream, IdempotentProducer } from "@rill/client";
import { startServer, type RunningServer, type ServerLimits } from "@rill/server";
import type { ProtocolError } from "../../packages/server/src/domain/errors.js";
import { errorHeaders, errorStatus } from "../../packages/server/src/http/error-statuses.js";
import { SqliteStore } from "../../packages/server/src/storage/sqlite-store.js";
import { RawSseReader, sleep } from "./support.js";

// Each limit answers a clear refusal at its bound, and lets work through again below it.
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(limits: Partial<ServerLimits>, options: Parameters<typeof startServer>[0] = {}) {
  server = await startServer({ port: 0, memory: true, limits, longPollTimeoutMs: 1_000, ...options });
  return { server, port: Number(new URL(server.url).port) };
}

const text = { "content-type": "text/plain" };

/** A refusal in Rill's error format: its status, code and Retry-After. */
async function refusal(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, retryAfter: res.headers.get("retry-after"), message: body.error.message };
}

describe("live readers per stream", () => {
  it("refuses SSE and waiting long-poll readers past the limit with 503, and admits them again below it", async () => {
    const { server, port } = await start({ maxReadersPerStream: 2 });
    const url = `${server.streamsUrl}/popular`;
    await fetch(url, { method: "PUT", headers: text });
    await fetch(`${server.streamsUrl}/quiet`, { method: "PUT", headers: text });
    await fetch(url, { method: "POST", headers: text, body: "hello" });

    const first = new RawSseReader(port, "/v1/stream/popular?offset=-1&live=sse", () => undefined);
    const second = new RawSseReader(port, "/v1/stream/popular?offset=-1&live=sse", () => undefined);
    await Promise.all([first.ready, second.ready]);
    expect([first.status, second.status]).toEqual([200, 200]);

    const sse = await fetch(`${url}?offset=-1&live=sse`);
    expect(await refusal(sse)).toMatchObject({ status: 503, code: "TOO_MANY_READERS", retryAfter: "5" });
    const waiting = await fetch(`${url}?offset=now&live=long-poll`);
    expect(await refusal(waiting)).toMatchObject({ status: 503, code: "TOO_MANY_READERS" });
    // A long-poll that has data to take at once does not wait, so it is answered.
    const behind = await fetch(`${url}?offset=-1&live=long-poll`);
    expect([behind.status, await behind.text()]).toEqual([200, "hello"]);
    // Another stream has readers of its own.
    const other = new RawSseReader(port, "/v1/stream/quiet?offset=-1&live=sse", () => undefined);
    await other.ready;
    expect(other.status).toBe(200);

    first.socket.destroy();
    await first.closed;
    await expect.poll(() => server.engine.hub.readersOf("popular")).toBe(1);
    const again = new RawSseReader(port, "/v1/stream/popular?offset=-1&live=sse", () => undefined);
    await again.ready;
    expect(again.status).toBe(200);
    for (const reader of [second, other, again]) reader.socket.destroy();
  });
});

describe("streams per server", () => {
  it("refuses to create a stream past the limit with 503, still answers re-creates, and creates again after a delete", async () => {
    const { server } = await start({ maxStreams: 3 });
    for (const name of ["a", "b", "c"]) {
      expect((await fetch(`${server.streamsUrl}/${name}`, { method: "PUT", headers: text })).status).toBe(201);
    }
    const fourth = await fetch(`${server.streamsUrl}/d`, { method: "PUT", headers: text, body: "content" });
    expect(await refusal(fourth)).toMatchObject({ status: 503, code: "TOO_MANY_STREAMS", retryAfter: "60" });
    expect((await fetch(`${server.streamsUrl}/d`)).status).toBe(404);
    expect((await fetch(`${server.streamsUrl}/b`, { method: "PUT", headers: text })).status).toBe(200);
    expect((await fetch(`${server.streamsUrl}/a`, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(`${server.streamsUrl}/d`, { method: "PUT", headers: text })).status).toBe(201);
  });

  it("is off by default", async () => {
    const { server } = await start({});
    for (let i = 0; i < 50; i++) {
      expect((await fetch(`${server.streamsUrl}/s${i}`, { method: "PUT", headers: text })).status).toBe(201);
    }
  });
});

describe("request head size", () => {
  it("answers 431 in Rill's error format to a head over the limit, and serves heads under it", async () => {
    const { server } = await start({ maxHeaderSize: 4096 });
    await fetch(`${server.streamsUrl}/h`, { method: "PUT", headers: text });
    const big = await fetch(`${server.streamsUrl}/h`, { headers: { "x-filler": "f".repeat(8192) } });
    expect(big.status).toBe(431);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("HEADERS_TOO_LARGE");
    const fits = await fetch(`${server.streamsUrl}/h`, { headers: { "x-filler": "f".repeat(2048) } });
    expect(fits.status).toBe(200);
  });
});

describe("malformed requests", () => {
  it("answers bytes that are not HTTP with 400 in Rill's error format and closes the connection", async () => {
    const { port } = await start({});
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (answer += chunk));
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.write("NOT HTTP AT ALL\r\n\r\n");
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split("\r\n\r\n")[1]!)).toEqual({ error: { code: "BAD_REQUEST", message: "malformed HTTP request" } });
  });
});

describe("commit queue", () => {
  it("refuses appends past the queued count or bytes with 503 + Retry-After; nothing refused is stored", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rill-queue-"));
    const store = await SqliteStore.open(dir, { commitQueue: { maxAppends: 3, maxBytes: 100 } });
    try {
      await store.create({ path: "q", contentType: "text/plain", ttlSeconds: null, expiresAt: null, closed: false, data: new Uint8Array(0), fork: null }, Date.now());
      const append = (body: string) =>
        store.append({ path: "q", contentType: "text/plain", data: new TextEncoder().encode(body), streamSeq: null, producer: null, close: false }, Date.now());
      // All in one event-loop turn: they wait for the same commit round.
      const byCount = await Promise.allSettled(["1", "2", "3", "4", "5"].map(append));
      expect(byCount.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
      const error = (byCount[3] as PromiseRejectedResult).reason as ProtocolError;
      expect([errorStatus(error), error.code, errorHeaders(error)["retry-after"]]).toEqual([503, "COMMIT_QUEUE_FULL", "1"]);

      const bySize = await Promise.allSettled(["x".repeat(60), "y".repeat(60)].map(append));
      expect(bySize.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
      // Once the round settled, the queue is empty again; an append larger than the byte bound still fits alone.
      await append("z".repeat(150));
      const stored = new TextDecoder().decode((await store.readRange("q", 0, 1_000, 10_000, true)).data);
      expect(stored).toBe(`123${"x".repeat(60)}${"z".repeat(150)}`);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("when PostgreSQL falls behind, refuses new appends with 503 and an idempotent producer delivers everything once it catches up", { timeout: 30_000 }, async () => {
    const databaseUrl = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    const schema = `rill_limits_${process.pid}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const blocker = new pg.Client({ connectionString: databaseUrl });
    await blocker.connect();
    try {
      const { server } = await start({ maxQueuedAppends: 4 }, { memory: false, store: "postgres", databaseUrl, postgres: { schema } });
      const url = `${server.streamsUrl}/behind`;
      await fetch(url, { method: "PUT", headers: text });

      // Another session holds the table the appends write to: rounds wait, the queue fills.
      await blocker.query("BEGIN");
      await blocker.query(`LOCK TABLE "${schema}".batches IN EXCLUSIVE MODE`);
      const plain = Array.from({ length: 10 }, (_, i) => fetch(url, { method: "POST", headers: text, body: `p${i};` }));
      const statuses: number[] = [];
      const refused = await Promise.race([
        Promise.all(plain.map(async (res) => statuses.push((await res).status))),
        (async () => {
          await expect.poll(() => statuses.filter((s) => s === 503).length, { timeout: 5_000 }).toBeGreaterThanOrEqual(5);
          return true;
        })(),
      ]);
      expect(refused).toBe(true);

      // When each producer sequence number was refused, and how long until the same batch was sent again.
      let seen503 = 0;
      const refusedAt = new Map<string, number>();
      const retryGaps: number[] = [];
      const counting: typeof fetch = async (input, init) => {
        const seq = new Headers(init?.headers).get("producer-seq") ?? "";
        const refused = refusedAt.get(seq);
        if (refused !== undefined) {
          retryGaps.push(Date.now() - refused);
          refusedAt.delete(seq);
        }
        const res = await fetch(input, init);
        if (res.status === 503) {
          seen503++;
          refusedAt.set(seq, Date.now());
        }
        return res;
      };
      const handle = new DurableStream({ url, contentType: "text/plain" });
      const producer = new IdempotentProducer(handle, "patient", { fetch: counting, lingerMs: 1, maxBatchBytes: 8 });
      for (let i = 0; i < 20; i++) producer.append(`m${String(i).padStart(2, "0")};`);
      const flushed = producer.flush();
      await expect.poll(() => seen503, { timeout: 5_000 }).toBeGreaterThan(0);
      await blocker.query("COMMIT");
      await flushed;
      await Promise.all(plain);
      // The producer waited as long as Retry-After (1 s) asked before sending a refused batch again.
      expect(retryGaps.length).toBeGreaterThan(0);
      expect(Math.min(...retryGaps)).toBeGreaterThanOrEqual(950);

      const body = await (await fetch(`${url}?offset=-1`)).text();
      const accepted = statuses.filter((s) => s === 204).length;
      expect(statuses.filter((s) => s === 503).length).toBe(10 - accepted);
      expect(accepted).toBeLessThanOrEqual(4);
      // Each plain append that was acknowledged is there once; each refused one is not there at all.
      expect((body.match(/p\d;/g) ?? []).length).toBe(accepted);
      expect(body.replace(/p\d;/g, "")).toBe(Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, "0")};`).join(""));
    } finally {
      await blocker.query("ROLLBACK").catch(() => undefined);
      await blocker.end();
      await server?.close();
      server = undefined;
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});
