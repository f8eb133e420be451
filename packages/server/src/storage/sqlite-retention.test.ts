import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "./sqlite-schema.js";
import { SqliteStore } from "./sqlite-store.js";
import { appendCommand, contents, createCommand, SECOND, T0 } from "./test-support.js";

/** Retention on SQLite gives the space back to the file system (incremental vacuum). */
describe("SqliteStore retention and disk space", () => {
  let dataDir: string;
  let store: SqliteStore | undefined;
  const file = () => join(dataDir, "rill.db");

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "rill-sqlite-retention-"));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Appends `count` batches of 32 KiB to "big", one second apart from T0. */
  async function fill(s: SqliteStore, count: number): Promise<void> {
    await s.create(createCommand("big"), T0);
    const chunk = "x".repeat(32 * 1024);
    for (let i = 0; i < count; i++) await s.append(appendCommand("big", chunk), T0 + i * SECOND);
  }

  it("shrinks rill.db after retention removes most of a stream", async () => {
    store = new SqliteStore({ dataDir });
    await fill(store, 200); // ~6.4 MiB
    await store.close();
    const before = statSync(file()).size;
    expect(before).toBeGreaterThan(6 * 1024 * 1024);

    store = new SqliteStore({ dataDir });
    const outcome = await store.retain("big", { maxAgeSeconds: null, maxBytes: 10 * 32 * 1024 }, T0 + 300 * SECOND);
    expect(outcome?.removedCount).toBe(190);
    expect(await contents(store, "big", outcome!.stream.earliest)).toHaveLength(10 * 32 * 1024);
    await store.close();
    const after = statSync(file()).size;
    // Only the ten newest batches (320 KiB) and the tables remain.
    expect(after).toBeLessThan(before / 5);
    store = undefined;
  });

  it("switches a database made without incremental vacuum over, keeping its data", async () => {
    store = new SqliteStore({ dataDir });
    await fill(store, 3);
    await store.close();
    store = undefined;
    const db = new Database(file());
    db.pragma("auto_vacuum = NONE");
    db.exec("VACUUM");
    expect(db.pragma("auto_vacuum", { simple: true })).toBe(0);
    db.close();

    store = new SqliteStore({ dataDir });
    expect((await contents(store, "big")).length).toBe(3 * 32 * 1024);
    await store.close();
    store = undefined;
    const check = new Database(file());
    try {
      expect(check.pragma("auto_vacuum", { simple: true })).toBe(2);
    } finally {
      check.close();
    }
  });

  it("upgrades a version-1 database: its batches count as committed at the upgrade, its streams keep no policy", async () => {
    const db = new Database(file());
    db.pragma("journal_mode = WAL");
    migrate(db, 1);
    db.prepare(
      `INSERT INTO streams (path, content_type, created_at, last_access_at, tail, closed, fork_offset, fork_count, soft_deleted)
       VALUES ('old', 'text/plain', ?, ?, 6, 0, 0, 0, 0)`,
    ).run(T0, T0);
    db.prepare("INSERT INTO batches (stream_id, start, bytes) VALUES (1, 0, ?)").run(Buffer.from("abcdef"));
    db.close();

    const before = Date.now();
    store = new SqliteStore({ dataDir });
    expect(await store.getStream("old")).toMatchObject({ tail: 6, earliest: 0, removedBytes: 0, retention: null, compaction: null });
    expect(await contents(store, "old")).toBe("abcdef");
    const [batch] = await store.scanBatches("old", 0, 6, 10);
    expect(batch!.appendedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(await store.retain("old", { maxAgeSeconds: 60, maxBytes: null }, before)).toBeNull();
    expect((await store.retain("old", { maxAgeSeconds: 60, maxBytes: null }, before + 120_000))?.stream.earliest).toBe(6);
  });
});
