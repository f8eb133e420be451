import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProtocolError } from "../domain/errors.js";
import { encodeNotices, MAX_PAYLOAD_BYTES } from "./postgres-listener.js";
import { PG_SCHEMA_VERSION } from "./postgres-schema.js";
import { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
import { runStoreSuite } from "./store-suite.js";
import type { RemoteCommit } from "./store.js";
import { appendCommand, bytes, commitRounds, contents, createCommand, metricValue, T0 } from "./test-support.js";

// PostgreSQL runs on every development and CI machine (see .ci/run). Each
// test file works in schemas of its own and drops them at the end.
const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `rill_store_test_${process.pid}`;
const schemas = new Set<string>([SCHEMA]);

let admin: pg.Pool;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
});
afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

const open = (options: Partial<PostgresStoreOptions> = {}) =>
  PostgresStore.open({ connectionString: DATABASE_URL, schema: SCHEMA, ...options });

runStoreSuite("PostgresStore", async () => {
  let current = await open();
  // Every test starts from empty tables in the file's schema.
  await admin.query(`TRUNCATE "${SCHEMA}".streams, "${SCHEMA}".batches, "${SCHEMA}".producers`);
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = await open();
      return current;
    },
    cleanup: () => current.close(),
  };
});

function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = async () => {
      const value = await check();
      if (value !== undefined) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void poll().catch(reject), 5);
    };
    void poll().catch(reject);
  });
}

/** Backend pids of the LISTEN connections open on the file's schema, as pg_stat_activity lists them. */
async function listenPids(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
    `rill-listen:${SCHEMA}`,
  ]);
  return rows.map((row) => row.pid);
}

const listenReconnects = () => metricValue("rill_pg_listen_reconnects_total");

describe("PostgresStore across servers", () => {
  // Two stores on one schema stand for two Rill servers.
  let a: PostgresStore;
  let b: PostgresStore;
  let path = "";
  let n = 0;

  afterEach(async () => {
    await a?.close();
    await b?.close();
  });

  async function twoServers(options: Partial<PostgresStoreOptions> = {}): Promise<void> {
    [a, b] = await Promise.all([open(options), open(options)]);
    path = `shared-${process.pid}-${++n}`;
    await a.create(createCommand(path), T0);
  }

  it("serializes appends from both servers: distinct, contiguous offsets", async () => {
    await twoServers();
    const sends: Promise<{ start: number; part: string }>[] = [];
    for (let i = 0; i < 200; i++) {
      const part = `<${i}>`;
      const store = i % 2 === 0 ? a : b;
      sends.push(store.append(appendCommand(path, part), T0).then((outcome) => ({ start: outcome.start, part })));
    }
    const acked = (await Promise.all(sends)).sort((x, y) => x.start - y.start);
    let expected = "";
    for (const { start, part } of acked) {
      expect(start).toBe(expected.length);
      expected += part;
    }
    expect(await contents(a, path)).toBe(expected);
    expect((await b.getStream(path))?.tail).toBe(expected.length);
  });

  it("holds the producer rules whichever server a retry lands on", async () => {
    await twoServers();
    const send = (store: PostgresStore, data: string, epoch: number, seq: number) =>
      store.append(appendCommand(path, data, { producer: { id: "w", epoch, seq } }), T0);
    expect(await send(a, "m0", 0, 0)).toMatchObject({ kind: "appended", start: 0 });
    // The retry of seq 0 reaches the other server: a duplicate, nothing written.
    expect(await send(b, "m0", 0, 0)).toMatchObject({ kind: "duplicate", producer: { epoch: 0, seq: 0 } });
    expect(await send(b, "m1", 0, 1)).toMatchObject({ kind: "appended", start: 2 });
    await expect(send(a, "m3", 0, 3)).rejects.toMatchObject({ code: "PRODUCER_SEQ_GAP" });
    // A new epoch on one server fences the old one on the other.
    expect(await send(a, "n0", 1, 0)).toMatchObject({ kind: "appended" });
    await expect(send(b, "m2", 0, 2)).rejects.toMatchObject({ code: "PRODUCER_STALE_EPOCH" });
    expect(await contents(b, path)).toBe("m0m1n0");
  });

  it("accepts one producer's pipelined appends alternating between servers only in order", async () => {
    await twoServers();
    // Each server keeps its own requests in order; seqs sent to both at once may
    // arrive out of order, and the loser of each race is told of the gap.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, seq) =>
        (seq % 2 === 0 ? a : b).append(appendCommand(path, `${seq},`, { producer: { id: "p", epoch: 0, seq } }), T0),
      ),
    );
    const accepted = outcomes.flatMap((o, seq) => (o.status === "fulfilled" ? [seq] : []));
    for (const o of outcomes) if (o.status === "rejected") expect((o.reason as ProtocolError).code).toBe("PRODUCER_SEQ_GAP");
    // What was accepted is a gap-free prefix of the seqs, stored once each in order.
    expect(accepted).toEqual(Array.from({ length: accepted.length }, (_, i) => i));
    expect(await contents(a, path)).toBe(accepted.map((s) => `${s},`).join(""));
  });

  it("tells the other server about commits, with the new tail, and not itself", async () => {
    await twoServers();
    const seenByB: RemoteCommit[] = [];
    const seenByA: RemoteCommit[] = [];
    b.watchRemoteCommits((change) => seenByB.push(change), () => []);
    a.watchRemoteCommits((change) => seenByA.push(change), () => []);
    const started = performance.now();
    await a.append(appendCommand(path, "hello"), T0);
    const change = await waitFor("the notice", () => seenByB.find((c) => c.path === path && c.tail === 5));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(change).toEqual({ path, start: 0, tail: 5, closed: false, gone: false });

    // Appends committed together make one notice, starting where the first one did.
    await Promise.all([a.append(appendCommand(path, "ab"), T0), a.append(appendCommand(path, "cd"), T0)]);
    expect(await waitFor("the joint notice", () => seenByB.find((c) => c.tail === 9))).toMatchObject({ start: 5, tail: 9 });

    await a.append(appendCommand(path, "!", { close: true }), T0);
    await waitFor("the close", () => seenByB.find((c) => c.path === path && c.closed));
    await a.delete(path, T0);
    await waitFor("the delete", () => seenByB.find((c) => c.path === path && c.gone));
    expect(seenByA).toEqual([]);
  });

  it("after losing its LISTEN connection, reconnects and re-reports every watched stream", async () => {
    await twoServers({ listenMinBackoffMs: 20 });
    // B's LISTEN connection is the one pg_stat_activity lists only after B is opened again.
    const before = new Set(await listenPids());
    await b.close();
    b = await open({ listenMinBackoffMs: 20 });
    const [pid, ...others] = (await listenPids()).filter((listening) => !before.has(listening));
    expect(pid).toBeGreaterThan(0);
    expect(others).toEqual([]);
    await a.append(appendCommand(path, "abc"), T0);
    const seen: RemoteCommit[] = [];
    b.watchRemoteCommits((change) => seen.push(change), () => [path, "not-there"]);
    const reconnects = await listenReconnects();
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await waitFor("the reconnection", async () => ((await listenReconnects()) > reconnects ? true : undefined));
    // The notice of the append above may arrive late too: wait for the resync's own reports.
    await waitFor("the resync", () => (seen.some((c) => c.path === "not-there") ? true : undefined));
    expect(seen).toContainEqual({ path, tail: 3, closed: false, gone: false });
    expect(seen).toContainEqual({ path: "not-there", tail: 0, closed: false, gone: true });
    // B listens again, on a new connection (A's is the one it had before).
    const now = await listenPids();
    expect(now).not.toContain(pid);
    expect(now.filter((listening) => !before.has(listening))).toHaveLength(1);
    // And it hears new commits again.
    await a.append(appendCommand(path, "d"), T0);
    await waitFor("a notice after reconnecting", () => seen.find((c) => c.tail === 4));
  });

  it("replaces pooled connections the database dropped", async () => {
    await twoServers();
    await a.append(appendCommand(path, "before"), T0);
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
      [`rill:${SCHEMA}`],
    );
    // Requests caught on a dying connection fail (the client retries); the pool then reconnects.
    let done = false;
    for (let attempt = 0; attempt < 20 && !done; attempt++) {
      done = await a.append(appendCommand(path, "!"), T0).then(
        () => true,
        () => false,
      );
      if (!done) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(done).toBe(true);
    expect((await contents(a, path)).startsWith("before!")).toBe(true);
  });

  it("lets only one of two servers create a path, and confirms it to the other", async () => {
    await twoServers();
    const fresh = `${path}-new`;
    const [x, y] = await Promise.all([
      a.create(createCommand(fresh, { data: bytes("one") }), T0),
      b.create(createCommand(fresh, { data: bytes("one") }), T0),
    ]);
    expect([x.created, y.created].sort()).toEqual([false, true]);
    expect(await contents(b, fresh)).toBe("one");
  });

  it("sweeps an expired stream once, whichever servers sweep", async () => {
    await twoServers();
    const ttl = `${path}-ttl`;
    await a.create(createCommand(ttl, { ttlSeconds: 1 }), T0);
    const [x, y] = await Promise.all([a.sweepExpired(T0 + 5000), b.sweepExpired(T0 + 5000)]);
    expect([...x, ...y].filter((p) => p === ttl)).toEqual([ttl]);
    expect(await b.getStream(ttl)).toBeUndefined();
  });

  it("commits the appends that arrive in one turn in one transaction, a JSON stream's in as few rows as fit", async () => {
    await twoServers();
    const json = { contentType: "application/json" };
    const jsonPath = `${path}-json`;
    await a.create(createCommand(jsonPath, json), T0);
    const before = await commitRounds("postgres");
    const parts = Array.from({ length: 50 }, (_, i) => `${i},`);
    await Promise.all(parts.map((part) => a.append(appendCommand(jsonPath, part, json), T0)));
    expect((await commitRounds("postgres")) - before).toBe(1);
    expect(await rowSizes(jsonPath)).toEqual([parts.join("").length]);
    expect(await contents(b, jsonPath)).toBe(parts.join(""));
    // Rows stay under 64 KiB: a round of 40 appends of 4 KiB makes three rows.
    const big = `"${"y".repeat(4093)}",`;
    await Promise.all(Array.from({ length: 40 }, () => a.append(appendCommand(jsonPath, big, json), T0)));
    expect(await rowSizes(jsonPath)).toEqual([parts.join("").length, 65536, 65536, 32768]);
    expect(await contents(b, jsonPath)).toBe(parts.join("") + big.repeat(40));

    // A byte stream keeps a row per append (its only record of where appends end), still in one round.
    const rounds = await commitRounds("postgres");
    await Promise.all(["a", "bb", "ccc"].map((part) => a.append(appendCommand(path, part), T0)));
    expect((await commitRounds("postgres")) - rounds).toBe(1);
    expect(await rowSizes(path)).toEqual([1, 2, 3]);
  });

  async function rowSizes(streamPath: string): Promise<number[]> {
    const { rows } = await admin.query(
      `SELECT octet_length(bytes) AS size FROM "${SCHEMA}".batches b JOIN "${SCHEMA}".streams s ON s.id = b.stream_id
       WHERE s.path = $1 ORDER BY start`,
      [streamPath],
    );
    return rows.map((r: { size: number }) => r.size);
  }
});

describe("PostgresStore schema", () => {
  it("migrates once when several servers start at the same moment", async () => {
    const schema = `rill_migrate_test_${process.pid}`;
    schemas.add(schema);
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStore.open({ connectionString: DATABASE_URL, schema })),
    );
    const { rows } = await admin.query(`SELECT version FROM "${schema}".rill_schema_version`);
    expect(rows).toEqual([{ version: PG_SCHEMA_VERSION }]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it("refuses a schema from a newer Rill", async () => {
    const schema = `rill_future_test_${process.pid}`;
    schemas.add(schema);
    await (await PostgresStore.open({ connectionString: DATABASE_URL, schema })).close();
    await admin.query(`UPDATE "${schema}".rill_schema_version SET version = $1`, [PG_SCHEMA_VERSION + 1]);
    await expect(PostgresStore.open({ connectionString: DATABASE_URL, schema })).rejects.toThrow(/version/);
  });

  it("works with the longest schema name it accepts", async () => {
    const schema = `rill_long_${process.pid}_`.padEnd(48, "x");
    schemas.add(schema);
    const [one, two] = await Promise.all([0, 1].map(() => PostgresStore.open({ connectionString: DATABASE_URL, schema })));
    const seen: RemoteCommit[] = [];
    two!.watchRemoteCommits((change) => seen.push(change), () => []);
    await one!.create(createCommand("s"), T0);
    await one!.append(appendCommand("s", "abc", { producer: { id: "p", epoch: 0, seq: 0 } }), T0);
    expect(await contents(two!, "s")).toBe("abc");
    await waitFor("the notice", () => seen.find((c) => c.tail === 3));
    await Promise.all([one!.close(), two!.close()]);
  });

  it("refuses schema names that are not plain identifiers", async () => {
    await expect(PostgresStore.open({ connectionString: DATABASE_URL, schema: 'x"; drop' })).rejects.toThrow(/schema name/);
  });
});

describe("notice payloads", () => {
  it("pack many notices into payloads under the limit, and fall back to a resync for oversized ones", () => {
    const commits: RemoteCommit[] = Array.from({ length: 500 }, (_, i) => ({ path: `stream/${i}`, tail: i, closed: false, gone: false }));
    commits.push({ path: "x".repeat(9000), tail: 1, closed: false, gone: false });
    const payloads = encodeNotices("me", commits);
    expect(payloads.length).toBeGreaterThan(1);
    const decoded = payloads.map((p) => JSON.parse(p) as { from: string; commits?: RemoteCommit[]; resync?: boolean });
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(decoded.flatMap((p) => p.commits ?? [])).toEqual(commits.slice(0, 500));
    expect(decoded.at(-1)).toEqual({ from: "me", resync: true });
  });
});
