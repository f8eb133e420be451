import type { ChildProcess } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgCluster, type PgCluster } from "../support/pg-cluster.js";
import { newStats, produce } from "../support/raw-producer.js";
import { freePort, serve } from "../support/serve.js";
import { longPollReader, readWhole, sseReader, type TailTarget } from "../support/tail-readers.js";

// A cluster of two `rill serve --store postgres` processes while its
// database fails: PostgreSQL is restarted by its service manager under live
// traffic, and a table lock stalls every statement. The database is a
// throwaway cluster of this test's own (pg_createcluster), so restarting it
// disturbs no other test running at the same time.
//
// What must hold: no request hangs; appends that cannot commit get 503 with
// Retry-After, never an acknowledgement; producers retrying through the
// outage end with every acknowledged message exactly once, in order; live
// readers (SSE and long-poll, on both servers) see exactly the stream; and
// the servers recover by themselves (pool and LISTEN connection).

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STATEMENT_TIMEOUT_MS = 1_500;

let cluster: PgCluster;
const children: ChildProcess[] = [];
let origins: string[] = [];

beforeAll(async () => {
  cluster = await createPgCluster(`rill_faults_${process.pid}`);
  origins = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const { child, origin } = await serve([
      "--host", "127.0.0.1", "--port", String(port), "--store", "postgres", "--database-url", cluster.url,
      "--long-poll-timeout", "2s", "--pg-statement-timeout", `${STATEMENT_TIMEOUT_MS}ms`,
    ]);
    children.push(child);
    origins.push(origin);
  }
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await cluster?.drop();
}, 60_000);

describe("PostgreSQL faults", () => {
  it("restarted under load: 503 + Retry-After meanwhile, nothing acknowledged lost or doubled, readers exact", async () => {
    const urls = origins.map((origin) => `${origin}/v1/stream/faults/restart`);
    expect((await fetch(urls[0]!, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);
    let finished = false;
    const target: TailTarget = { urls, done: () => finished, anyUp: () => true };
    const readers = [sseReader(target, 0), sseReader(target, 1), longPollReader(target, 0), longPollReader(target, 1)];

    const stats = newStats();
    const ids = ["A", "B", "C"];
    const perProducer = 150;
    let turn = 0;
    const pick = () => urls[turn++ % urls.length]!;
    const producers = Promise.all(
      ids.map(async (id) => {
        // Paced, so the restart lands in the middle of the run.
        await produce({ id, count: perProducer, pick, stats });
      }),
    );
    while (stats.acks.length < (ids.length * perProducer) / 4 && stats.failures.length === 0) await sleep(5);
    const restartBegan = performance.now();
    await cluster.restart();
    const restartMs = performance.now() - restartBegan;
    await producers;
    expect(stats.failures).toEqual([]);
    expect(stats.hung).toBe(0);

    const closed = await fetch(urls[1]!, { method: "POST", headers: { "stream-closed": "true" } });
    expect([200, 204]).toContain(closed.status);
    finished = true;
    const stream = await readWhole(urls[0]!);
    expect(await readWhole(urls[1]!)).toBe(stream);
    const messages = stream.split(";").filter(Boolean).map((m) => m.split(":") as [string, string]);
    expect(messages).toHaveLength(ids.length * perProducer);
    for (const id of ids) {
      const seqs = messages.filter(([p]) => p === id).map(([, n]) => Number(n));
      expect(seqs).toEqual(Array.from({ length: perProducer }, (_, i) => i));
    }
    for (const content of await Promise.all(readers)) expect(content).toBe(stream);
    console.log(
      `postgres restart (${restartMs.toFixed(0)} ms): ${stats.unavailable} answers 503 + Retry-After, ` +
        `${stats.retriesElsewhere} connection failures, ${stats.duplicates} duplicates`,
    );
    // The restart was felt by the writers, as 503s — not as hangs, 500s or lost acknowledgements.
    expect(stats.unavailable).toBeGreaterThan(0);
  }, 90_000);

  it("stalled behind a lock: requests fail with 503 after the statement timeout, then recover", async () => {
    const url = `${origins[0]}/v1/stream/faults/stall`;
    expect((await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" }, body: "before;" })).status).toBe(201);
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    try {
      await admin.query("BEGIN");
      await admin.query("LOCK TABLE rill.streams IN ACCESS EXCLUSIVE MODE");
      const began = performance.now();
      const [append, read] = await Promise.all([
        fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "during;", signal: AbortSignal.timeout(10_000) }),
        fetch(`${origins[1]}/v1/stream/faults/stall?offset=-1`, { signal: AbortSignal.timeout(10_000) }),
      ]);
      const waited = performance.now() - began;
      for (const res of [append, read]) {
        expect(res.status).toBe(503);
        expect(res.headers.get("retry-after")).toBe("1");
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe("STORE_UNAVAILABLE");
        expect(body.error.message).toMatch(/database is unavailable/);
      }
      expect(waited).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT_MS - 100);
      expect(waited).toBeLessThan(STATEMENT_TIMEOUT_MS + 4_000);
    } finally {
      await admin.query("ROLLBACK").catch(() => undefined);
      await admin.end();
    }
    // The lock is gone: the same servers serve again, and the refused append was not applied.
    expect((await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "after;" })).status).toBe(204);
    expect(await readWhole(`${origins[1]}/v1/stream/faults/stall`)).toBe("before;after;");
  }, 60_000);
});
