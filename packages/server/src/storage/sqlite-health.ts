import { statSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import type { StoreUsage } from "./store.js";

/** The database file and the files SQLite keeps next to it in WAL mode. */
const FILES = ["rill.db", "rill.db-wal", "rill.db-shm"];

/**
 * Proves the database can take a write now: takes and releases the write
 * lock (BEGIN IMMEDIATE fails on a read-only or vanished file, or when
 * another process holds the lock past the busy timeout). Runs between commit
 * rounds — rounds run synchronously, so none is ever half-way here.
 */
export function checkWritable(db: Database.Database, closed: boolean): void {
  if (closed || !db.open) throw new Error("the database is closed");
  if (db.inTransaction) return; // A round is committing: the store is clearly writing.
  db.prepare("BEGIN IMMEDIATE").run();
  db.prepare("ROLLBACK").run();
}

export function sqliteUsage(db: Database.Database, dataDir: string): StoreUsage {
  const row = db.prepare("SELECT count(*) AS n FROM streams WHERE soft_deleted = 0").get() as { n: number };
  let bytes = 0;
  for (const file of FILES) {
    try {
      bytes += statSync(join(dataDir, file)).size;
    } catch {
      // The WAL and shared-memory files come and go with checkpoints.
    }
  }
  return { streams: row.n, bytes };
}
