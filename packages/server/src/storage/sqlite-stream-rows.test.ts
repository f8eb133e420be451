import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import { appendCommand, contents, createCommand, producer, T0 } from "./test-support.js";

/**
 * Schema 3: an append leaves its stream's row alone when only the tail (and,
 * without a TTL, the time of last access) moved; reads take the tail from the
 * stream's last batch. These tests look at the rows themselves, then at what
 * every way of reading a stream back makes of them.
 */
describe("SqliteStore stream rows", () => {
  let dataDir: string;
  let store: SqliteStore;
  const open = (options: Partial<SqliteStoreOptions> = {}) => (store = new SqliteStore({ dataDir, ...options }));
  /** The row as stored, read on a second connection. */
  const row = (path: string) => {
    const db = new Database(join(dataDir, "rill.db"), { readonly: true });
    try {
      return db.prepare("SELECT tail, last_access_at, closed, last_stream_seq FROM streams WHERE path = ?").get(path) as
        | { tail: number; last_access_at: number; closed: number; last_stream_seq: string | null }
        | undefined;
    } finally {
      db.close();
    }
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "rill-rows-"));
    open();
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("does not write the row of a stream whose appends only moved its tail, and reads the tail from its batches", async () => {
    await store.create(createCommand("a"), T0);
    await store.append(appendCommand("a", "abc"), T0 + 1);
    await store.append(appendCommand("a", "de"), T0 + 2);
    expect(row("a")).toMatchObject({ tail: 0, last_access_at: T0 });
    expect(await store.getStream("a")).toMatchObject({ tail: 5 });

    await store.close();
    open();
    expect(await store.getStream("a")).toMatchObject({ tail: 5 });
    expect((await store.list("", null, 10)).map((s) => [s.path, s.tail])).toEqual([["a", 5]]);
    expect(await store.append(appendCommand("a", "f"), T0 + 3)).toMatchObject({ kind: "appended", start: 5 });
    expect(await contents(store, "a")).toBe("abcdef");
  });

  it("reads the tail from the batches for a stream the cache let go of, and for a fork", async () => {
    open({ maxCachedStreams: 1 });
    await store.create(createCommand("src"), T0);
    await store.append(appendCommand("src", "0123"), T0);
    await store.create(createCommand("other"), T0); // takes the cache's one place
    expect(await store.getStream("src")).toMatchObject({ tail: 4 });

    await store.create(createCommand("fork", { fork: { source: "src", position: 2, explicit: true } }), T0);
    await store.append(appendCommand("fork", "xy"), T0);
    expect(row("fork")).toMatchObject({ tail: 2 });
    await store.close();
    open();
    expect(await store.getStream("fork")).toMatchObject({ tail: 4 });
    // The store holds a fork's own bytes (reads go through to its source above it).
    expect(await contents(store, "fork", 2)).toBe("xy");
    expect(await store.append(appendCommand("fork", "z"), T0)).toMatchObject({ start: 4 });
    expect(await contents(store, "src")).toBe("0123");
  });

  it("writes the row when an append changes more than the tail: a TTL's last access, a Stream-Seq, a close", async () => {
    await store.create(createCommand("ttl", { ttlSeconds: 60 }), T0);
    await store.append(appendCommand("ttl", "abc"), T0 + 5);
    expect(row("ttl")).toMatchObject({ tail: 3, last_access_at: T0 + 5 });

    await store.create(createCommand("seq"), T0);
    await store.append(appendCommand("seq", "ab", { streamSeq: "0001" }), T0);
    expect(row("seq")).toMatchObject({ tail: 2, last_stream_seq: "0001" });
    await store.append(appendCommand("seq", "c"), T0);
    expect(row("seq")).toMatchObject({ tail: 2, last_stream_seq: "0001" });

    await store.create(createCommand("closed"), T0);
    await store.append(appendCommand("closed", "ab"), T0);
    await store.append(appendCommand("closed", "c", { close: true, producer: producer("p", 0, 0) }), T0);
    expect(row("closed")).toMatchObject({ tail: 3, closed: 1 });

    await store.close();
    open();
    expect(await store.getStream("seq")).toMatchObject({ tail: 3, lastStreamSeq: "0001" });
    expect(await store.getStream("closed")).toMatchObject({ tail: 3, closed: true, closedBy: { id: "p", epoch: 0, seq: 0 } });
    await expect(store.append(appendCommand("seq", "d", { streamSeq: "0001" }), T0)).rejects.toThrow(/Stream-Seq/);
  });

  it("keeps the tail when retention removes the batches in front of a row that lags", async () => {
    await store.create(createCommand("r"), T0);
    for (let i = 0; i < 4; i++) await store.append(appendCommand("r", "xxxx"), T0 + i);
    expect(row("r")).toMatchObject({ tail: 0 });
    const outcome = await store.retain("r", { maxAgeSeconds: null, maxBytes: 4 }, T0 + 10);
    expect(outcome?.stream).toMatchObject({ tail: 16, earliest: 12 });
    await store.close();
    open();
    expect(await store.getStream("r")).toMatchObject({ tail: 16, earliest: 12 });
    expect(await store.append(appendCommand("r", "y"), T0 + 11)).toMatchObject({ start: 16 });
  });
});
