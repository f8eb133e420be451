import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WalCheckpointer } from "./sqlite-checkpointer.js";
import { SqliteStore } from "./sqlite-store.js";
import { appendCommand, contents, createCommand, T0 } from "./test-support.js";

describe("WalCheckpointer", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "rill-checkpoint-"));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("copies what the store committed into the database file on its worker, below the store's own backstop", async () => {
    const store = new SqliteStore({ dataDir });
    const database = join(dataDir, "rill.db");
    try {
      await store.create(createCommand("/big"), T0);
      const before = statSync(database).size;
      // 6 MB in 24 rounds: past the worker's 4 MB trigger, far below the 64 MB at which the store's connection would checkpoint.
      const piece = "x".repeat(256 * 1024);
      for (let i = 0; i < 24; i++) await store.append(appendCommand("/big", piece), T0);
      await vi.waitFor(() => expect(statSync(database).size - before).toBeGreaterThan(4 * 1024 * 1024), { timeout: 5000 });
      expect((await store.getStream("/big"))?.tail).toBe(24 * piece.length);
    } finally {
      await store.close();
    }
    const reopened = new SqliteStore({ dataDir });
    try {
      expect((await contents(reopened, "/big")).length).toBe(24 * 256 * 1024);
    } finally {
      await reopened.close();
    }
  });

  it("hands checkpoints back to the store's connection when its worker cannot work", async () => {
    const db = new Database(join(dataDir, "own.db"));
    db.pragma("journal_mode = WAL");
    const checkpointer = new WalCheckpointer(db, join(dataDir, "missing", "directory", "own.db"));
    try {
      expect(Number(db.pragma("wal_autocheckpoint", { simple: true }))).toBeGreaterThan(1000);
      await vi.waitFor(() => expect(Number(db.pragma("wal_autocheckpoint", { simple: true }))).toBe(1000), { timeout: 5000 });
    } finally {
      await checkpointer.close();
      db.close();
    }
  });
});
