import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../domain/errors.js";
import { SCHEMA_VERSION } from "./sqlite-schema.js";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import { runStoreSuite } from "./store-suite.js";
import { appendCommand, bytes, commitRounds, contents, createCommand, T0, text } from "./test-support.js";

runStoreSuite("SqliteStore", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "rill-sqlite-"));
  let current = new SqliteStore({ dataDir });
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = new SqliteStore({ dataDir });
      return current;
    },
    cleanup: async () => {
      await current.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

/**
 * Makes SQLite refuse, with `RAISE(action, message)`, every batch row whose
 * bytes contain `marker`. Appends within a round may be merged into one row,
 * so the triggers watch updates as well as inserts. Returns what drops them.
 */
function failBatchesContaining(db: Database.Database, marker: string, action: "ABORT" | "ROLLBACK", message: string) {
  const events = ["INSERT", "UPDATE"];
  for (const event of events) {
    db.exec(`CREATE TRIGGER ${marker}_${event} BEFORE ${event} ON batches WHEN instr(NEW.bytes, CAST('${marker}' AS BLOB)) > 0
             BEGIN SELECT RAISE(${action}, '${message}'); END`);
  }
  return () => {
    for (const event of events) db.exec(`DROP TRIGGER ${marker}_${event}`);
  };
}

describe("SqliteStore specifics", () => {
  let dataDir: string;
  let store: SqliteStore | undefined;
  const open = (options: Partial<SqliteStoreOptions> = {}) => (store = new SqliteStore({ dataDir, ...options }));
  /** A second connection, as an operator's sqlite3 shell would have. */
  const raw = () => new Database(join(dataDir, "rill.db"));

  beforeEach(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), "rill-sqlite-")), "nested", "data");
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(join(dataDir, "..", ".."), { recursive: true, force: true });
  });

  it("creates its directory and a WAL-mode database with a schema version", async () => {
    const s = open();
    await s.create(createCommand("a"), T0);
    const db = raw();
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.prepare("SELECT path FROM streams").all()).toEqual([{ path: "a" }]);
    } finally {
      db.close();
    }
  });

  it("refuses a database written by a newer schema", async () => {
    await open().close();
    const db = raw();
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => open()).toThrow(/schema version/);
    store = undefined;
  });

  it("commits everything issued in one event-loop turn in one transaction, across streams", async () => {
    const s = open();
    for (const path of ["x", "y", "z"]) await s.create(createCommand(path), T0);
    const before = await commitRounds("sqlite");
    await Promise.all(Array.from({ length: 90 }, (_, i) => s.append(appendCommand(["x", "y", "z"][i % 3]!, "."), T0)));
    expect((await commitRounds("sqlite")) - before).toBe(1);
    for (let i = 0; i < 3; i++) await s.append(appendCommand("x", "!"), T0);
    expect((await commitRounds("sqlite")) - before).toBe(4);
    expect(await contents(s, "x")).toBe(".".repeat(30) + "!!!");
  });

  it("shows nothing of a request until it has committed", async () => {
    const s = open();
    await s.create(createCommand("a"), T0);
    const pending = s.append(appendCommand("a", "abc"), T0);
    expect((await s.getStream("a"))?.tail).toBe(0);
    expect((await s.readRange("a", 0, 3, 100, true)).data).toHaveLength(0);
    expect((await pending).stream.tail).toBe(3);
    expect((await s.getStream("a"))?.tail).toBe(3);
  });

  it("fails only the request whose statement fails, and stays consistent", async () => {
    const s = open();
    await s.create(createCommand("a"), T0);
    const db = raw();
    try {
      failBatchesContaining(db, "poison", "ABORT", "injected failure");
      const results = await Promise.allSettled([
        s.append(appendCommand("a", "one"), T0),
        s.append(appendCommand("a", "poison", { producer: { id: "p", epoch: 0, seq: 0 } }), T0),
        s.append(appendCommand("a", "two"), T0),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      const failure = (results[1] as PromiseRejectedResult).reason as Error;
      expect(failure).not.toBeInstanceOf(ProtocolError);
      expect(failure.message).toMatch(/injected failure/);
      expect(await contents(s, "a")).toBe("onetwo");
      // The failed request left no producer state behind: seq 0 is still new.
      const retried = await s.append(appendCommand("a", "three", { producer: { id: "p", epoch: 0, seq: 0 } }), T0);
      expect(retried).toMatchObject({ kind: "appended", start: 6 });
      expect(await contents(s, "a")).toBe("onetwothree");
    } finally {
      db.close();
    }
  });

  it("forgets the partial effects of a request that fails midway", async () => {
    const s = open();
    await s.create(createCommand("src", { data: bytes("abc") }), T0);
    await s.create(createCommand("old", { fork: { source: "src", position: 3, explicit: true }, ttlSeconds: 1 }), T0);
    const db = raw();
    try {
      // Replacing the expired fork first takes it off its source, then fails to insert the new stream.
      db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON streams WHEN NEW.path = 'old'
               BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
      await expect(s.create(createCommand("old"), T0 + 5000)).rejects.toThrow(/injected failure/);
      expect(await s.getStream("src")).toMatchObject({ forkCount: 1 });
      expect(await s.getStream("old")).toMatchObject({ forkedFrom: "src" });
      db.exec("DROP TRIGGER refuse");
      await s.create(createCommand("old"), T0 + 5000);
      expect(await s.getStream("src")).toMatchObject({ forkCount: 0 });
    } finally {
      db.close();
    }
  });

  it("fails the whole round when SQLite abandons the transaction, and forgets its effects", async () => {
    const s = open();
    await s.create(createCommand("a", { data: bytes("base") }), T0);
    const db = raw();
    try {
      const dropTriggers = failBatchesContaining(db, "doom", "ROLLBACK", "injected rollback");
      const results = await Promise.allSettled([
        s.create(createCommand("b"), T0),
        s.append(appendCommand("a", "x"), T0),
        s.append(appendCommand("a", "doom"), T0),
        s.append(appendCommand("a", "y"), T0),
      ]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
      expect(await s.getStream("b")).toBeUndefined();
      expect((await s.getStream("a"))?.tail).toBe(4);
      dropTriggers();
      expect((await s.append(appendCommand("a", "z"), T0)).start).toBe(4);
      expect(await contents(s, "a")).toBe("basez");
    } finally {
      db.close();
    }
  });

  it("merges a round's appends to one JSON stream into one row, keeping every offset readable", async () => {
    const s = open();
    const json = { contentType: "application/json" };
    await s.create(createCommand("m", json), T0);
    const outcomes = await Promise.all(["1,", "22,", "333,", "4444,"].map((part) => s.append(appendCommand("m", part, json), T0)));
    expect(outcomes.map((o) => o.start)).toEqual([0, 2, 5, 9]);
    expect(batchRows()).toBe(1);
    expect(text(await s.readRange("m", 5, 1e9, 1e9, false))).toBe("333,4444,");
    expect(text(await s.readRange("m", 2, 9, 1e9, true))).toBe("22,333,");
    await s.append(appendCommand("m", "5,", json), T0);
    expect(await contents(s, "m")).toBe("1,22,333,4444,5,");
  });

  it("merges only what the round left in place: a stream deleted and made anew in the same round keeps its own rows", async () => {
    const s = open();
    const json = { contentType: "application/json" };
    await s.create(createCommand("d", json), T0);
    // One round: two appends (a run), the stream deleted, made anew, and appended to again.
    const round = [
      s.append(appendCommand("d", "1,", json), T0),
      s.append(appendCommand("d", "22,", json), T0),
      s.delete("d"),
      s.create(createCommand("d", json), T0),
      s.append(appendCommand("d", "333,", json), T0),
      s.append(appendCommand("d", "4444,", json), T0),
    ];
    await Promise.all(round);
    expect(await contents(s, "d")).toBe("333,4444,");
    // The deleted stream's run was not written back; the new stream's two appends became one row.
    expect(batchRows()).toBe(1);
  });

  it("stores the others of a round where SQLite refused one append, each at its offset, and merges again after", async () => {
    const s = open();
    const json = { contentType: "application/json" };
    await s.create(createCommand("f", json), T0);
    const db = raw();
    const restore = failBatchesContaining(db, "BAD", "ABORT", "refused by the test");
    const outcomes = await Promise.allSettled(["1,", '"BAD",', "22,", "333,"].map((part) => s.append(appendCommand("f", part, json), T0)));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.start] : []))).toEqual([0, 2, 5]);
    expect(await contents(s, "f")).toBe("1,22,333,");
    expect(text(await s.readRange("f", 2, 1e9, 1e9, true))).toBe("22,333,");
    // That round was run again with a savepoint per request, which writes a row per append; the next one merges.
    expect(batchRows()).toBe(3);
    await Promise.all(["4,", "5,"].map((part) => s.append(appendCommand("f", part, json), T0)));
    expect(batchRows()).toBe(4);
    expect(await contents(s, "f")).toBe("1,22,333,4,5,");
    restore();
    db.close();
  });

  it("keeps one row per append to a byte stream, which is where each append's boundaries are kept", async () => {
    const s = open();
    await s.create(createCommand("b"), T0);
    await Promise.all(["a", "bb", "ccc"].map((part) => s.append(appendCommand("b", part), T0)));
    expect(batchRows()).toBe(3);
    expect(await contents(s, "b")).toBe("abbccc");
  });

  function batchRows(): number {
    const db = raw();
    try {
      return (db.prepare("SELECT count(*) AS n FROM batches").get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  it("keeps a stream's appends of one round in order when the cache lets go of it between them", async () => {
    const s = open({ maxCachedStreams: 2 });
    const paths = Array.from({ length: 6 }, (_, i) => `e${i}`);
    for (const path of paths) await s.create(createCommand(path), T0);
    // One round: every stream once, then every stream again — with room for two, each is evicted in between.
    const outcomes = await Promise.all(
      ["x", "yy"].flatMap((part) => paths.map((path) => s.append(appendCommand(path, `${path}${part}`), T0))),
    );
    expect(outcomes.map((o) => o.start)).toEqual([...paths.map(() => 0), ...paths.map(() => 3)]);
    for (const path of paths) expect(await contents(s, path)).toBe(`${path}x${path}yy`);
    await s.close();
    const reopened = open({ maxCachedStreams: 2 });
    for (const path of paths) {
      expect((await reopened.getStream(path))?.tail).toBe(7);
      expect(await contents(reopened, path)).toBe(`${path}x${path}yy`);
    }
  });

  it("deduplicates a producer's retry within one round when the cache lets go of its stream in between", async () => {
    const s = open({ maxCachedStreams: 2 });
    const paths = Array.from({ length: 4 }, (_, i) => `p${i}`);
    for (const path of paths) await s.create(createCommand(path), T0);
    const producer = (seq: number) => ({ producer: { id: "writer", epoch: 0, seq } });
    // One round: seq 0 to every stream, then seq 0 again (a retry) and seq 1; each stream is evicted in between.
    const outcomes = await Promise.all([
      ...paths.map((path) => s.append(appendCommand(path, "a", producer(0)), T0)),
      ...paths.map((path) => s.append(appendCommand(path, "a", producer(0)), T0)),
      ...paths.map((path) => s.append(appendCommand(path, "b", producer(1)), T0)),
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual([...paths.map(() => "appended"), ...paths.map(() => "duplicate"), ...paths.map(() => "appended")]);
    await s.close();
    const reopened = open({ maxCachedStreams: 2 });
    for (const path of paths) {
      expect(await contents(reopened, path)).toBe("ab");
      expect(await reopened.append(appendCommand(path, "b", producer(1)), T0)).toMatchObject({ kind: "duplicate" });
    }
  });

  it("stays correct when the cache holds fewer streams than are in use", async () => {
    const s = open({ maxCachedStreams: 2 });
    const paths = Array.from({ length: 8 }, (_, i) => `s${i}`);
    for (const path of paths) await s.create(createCommand(path), T0);
    for (let round = 0; round < 3; round++) {
      const sends = paths.flatMap((path) => [
        s.append(appendCommand(path, `${round}a`, { producer: { id: "p", epoch: 0, seq: 2 * round } }), T0),
        s.append(appendCommand(path, `${round}b`, { producer: { id: "p", epoch: 0, seq: 2 * round + 1 } }), T0),
      ]);
      const outcomes = await Promise.all(sends);
      expect(outcomes.every((o) => o.kind === "appended")).toBe(true);
    }
    for (const path of paths) {
      const duplicate = await s.append(appendCommand(path, "1b", { producer: { id: "p", epoch: 0, seq: 3 } }), T0);
      expect(duplicate.kind).toBe("duplicate");
      expect(await contents(s, path)).toBe("0a0b1a1b2a2b");
    }
  });

  it("persists a touch within the flush interval, without any write", async () => {
    const s = open({ touchFlushMs: 20 });
    await s.create(createCommand("t", { ttlSeconds: 60 }), T0);
    await s.touch("t", T0 + 5000);
    const stored = () => {
      const db = raw();
      try {
        return (db.prepare("SELECT last_access_at AS at FROM streams WHERE path = 't'").get() as { at: number }).at;
      } finally {
        db.close();
      }
    };
    expect(stored()).toBe(T0);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(stored()).toBe(T0 + 5000);
  });

  it("keeps every acknowledged append when its process is killed with SIGKILL", async () => {
    // A child process appends through an idempotent producer and prints each
    // acknowledgement; we kill it mid-stream, check the data, and let the next
    // child resume from the last acknowledged seq (the unacknowledged tail must
    // come back as duplicates, never twice).
    const require = createRequire(import.meta.url);
    const script = join(dataDir, "..", "..", "child.mjs");
    await writeFile(script, CHILD_SCRIPT);
    const env = {
      ...process.env,
      VITE_ENTRY: pathToFileURL(require.resolve("vite")).href,
      STORE_MODULE: fileURLToPath(new URL("./sqlite-store.ts", import.meta.url)),
      DATA_DIR: dataDir,
    };
    let resume = 0;
    const acknowledged = new Map<number, number>(); // seq → start
    for (let life = 0; life < 3; life++) {
      const child = spawn(process.execPath, [script], { env: { ...env, RESUME_SEQ: String(resume) }, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      let buffered = "";
      let acksThisLife = 0;
      const enoughAcks = 200 + Math.floor(Math.random() * 600);
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split("\n");
          buffered = lines.pop()!;
          for (const line of lines) {
            const [word, seq, kind, start] = line.split(" ");
            if (word !== "ack") continue;
            acksThisLife++;
            if (kind === "appended") acknowledged.set(Number(seq), Number(start));
            resume = Math.max(resume, Number(seq) + 1);
          }
          if (acksThisLife >= enoughAcks) {
            child.kill("SIGKILL");
            resolve();
          }
        });
        child.on("exit", (code, signal) => {
          if (signal !== "SIGKILL") reject(new Error(`child exited early (${code}): ${stderr}`));
        });
      });
      await exited;

      const s = open();
      const stored = await contents(s, "crash");
      const messages = stored.split(";").slice(0, -1);
      // Every stored message is the next seq: nothing lost in the middle, nothing twice.
      expect(messages).toEqual(messages.map((_, i) => String(i)));
      expect(messages.length).toBeGreaterThanOrEqual(resume);
      for (const [seq, start] of acknowledged) expect(stored.slice(start, start + `${seq};`.length)).toBe(`${seq};`);
      await s.close();
      store = undefined;
    }
    expect(acknowledged.size).toBeGreaterThan(500);
  }, 60_000);
});

const CHILD_SCRIPT = `
const { runnerImport } = await import(process.env.VITE_ENTRY);
const { module } = await runnerImport(process.env.STORE_MODULE);
const store = new module.SqliteStore({ dataDir: process.env.DATA_DIR });
const encoder = new TextEncoder();
await store.create({ path: "crash", contentType: "text/plain", ttlSeconds: null, expiresAt: null, closed: false,
  data: new Uint8Array(0), fork: null, retention: null, compaction: null }, Date.now());
let seq = Number(process.env.RESUME_SEQ);
for (;;) {
  const burst = [];
  for (let i = 0; i < 16; i++, seq++) {
    const n = seq;
    burst.push(store.append({ path: "crash", contentType: null, data: encoder.encode(n + ";"), streamSeq: null,
      producer: { id: "writer", epoch: 0, seq: n }, close: false }, Date.now())
      .then((outcome) => process.stdout.write("ack " + n + " " + outcome.kind + " " + outcome.start + "\\n")));
  }
  await Promise.all(burst);
}
`;
