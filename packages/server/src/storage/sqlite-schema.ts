import type Database from "better-sqlite3";
import type { StreamState } from "../domain/model.js";
import { log } from "../logging/logger.js";
import { INSERT_COLUMNS, INSERT_PARAMS, stateParams, streamColumnsWith } from "./stream-row.js";

/**
 * The SQLite store's database: its tables, how an older `rill.db` is brought
 * up to date, and the statements the store runs (prepared once per store).
 */

/** Bumped whenever the schema changes; `migrations[v]` brings version v to v+1. */
export const SCHEMA_VERSION = 3;

const migrations: readonly string[] = [
  `
  CREATE TABLE streams (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    path            TEXT    NOT NULL UNIQUE,
    content_type    TEXT    NOT NULL,
    ttl_seconds     INTEGER,
    expires_at      INTEGER,
    created_at      INTEGER NOT NULL,
    last_access_at  INTEGER NOT NULL,
    tail            INTEGER NOT NULL,
    closed          INTEGER NOT NULL,
    last_stream_seq TEXT,
    forked_from     TEXT,
    fork_offset     INTEGER NOT NULL,
    fork_count      INTEGER NOT NULL,
    soft_deleted    INTEGER NOT NULL,
    closed_by_id    TEXT,
    closed_by_epoch INTEGER,
    closed_by_seq   INTEGER,
    -- expiryTime() from domain/model.ts, so the sweeper is an index range scan.
    expiry_at       INTEGER GENERATED ALWAYS AS (
      CASE WHEN ttl_seconds IS NULL THEN expires_at
           WHEN expires_at IS NULL THEN last_access_at + ttl_seconds * 1000
           ELSE min(expires_at, last_access_at + ttl_seconds * 1000) END) VIRTUAL
  );
  CREATE INDEX streams_expiry ON streams (expiry_at) WHERE expiry_at IS NOT NULL AND soft_deleted = 0;

  -- One row per append (or initial PUT body): a stream's bytes from start to start + length(bytes).
  -- Not WITHOUT ROWID: rows carry large blobs.
  CREATE TABLE batches (
    stream_id INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    bytes     BLOB    NOT NULL,
    PRIMARY KEY (stream_id, start)
  );

  CREATE TABLE producers (
    stream_id   INTEGER NOT NULL,
    producer_id TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    PRIMARY KEY (stream_id, producer_id)
  ) WITHOUT ROWID;
  `,
  // 2: retention and key compaction (docs/retention.md). Batches committed
  // before this version count as committed when the database was upgraded.
  `
  ALTER TABLE streams ADD COLUMN retention_age   INTEGER;
  ALTER TABLE streams ADD COLUMN retention_bytes INTEGER;
  ALTER TABLE streams ADD COLUMN compaction      TEXT;
  ALTER TABLE streams ADD COLUMN earliest        INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE streams ADD COLUMN removed_bytes   INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX streams_forks ON streams (forked_from) WHERE forked_from IS NOT NULL;
  ALTER TABLE batches ADD COLUMN appended_at INTEGER NOT NULL DEFAULT 0;
  UPDATE batches SET appended_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
  `,
  // 3: an append no longer writes its stream's row when only the tail moved
  // (and, for a stream without a TTL, the time of last access, which nothing
  // reads back): a stream's tail is the end of its last batch when that is
  // further than the row's (STREAM_COLUMNS below). No table changes; the
  // version keeps an older Rill, which would trust the row's tail, out.
  `-- no table changes`,
];

/**
 * Space freed by retention goes back to the file system through incremental
 * vacuum, which SQLite allows only when set before the first table exists,
 * or after a full VACUUM. A new database gets it here, before `migrate`; an
 * older one is rewritten once (this can take a while for a large file).
 * Runs outside any transaction (VACUUM cannot run inside one).
 */
export function enableIncrementalVacuum(db: Database.Database): void {
  const INCREMENTAL = 2;
  if (Number(db.pragma("auto_vacuum", { simple: true })) === INCREMENTAL) return;
  db.pragma("auto_vacuum = INCREMENTAL");
  const hasTables = Number(db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get()) > 0;
  if (hasTables) db.exec("VACUUM");
}

/**
 * Brings `rill.db` to SCHEMA_VERSION (kept in `PRAGMA user_version`), in one
 * transaction. `target` stops earlier: tests build an older database with it.
 */
export function migrate(db: Database.Database, target = SCHEMA_VERSION): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new Error(`rill.db has schema version ${version}; this Rill understands up to ${SCHEMA_VERSION}`);
  }
  if (version >= target) return;
  db.transaction(() => {
    for (let v = version; v < target; v++) db.exec(migrations[v]!);
    db.pragma(`user_version = ${target}`);
  }).immediate();
  log().info(
    { event: "store_migrated", store: "sqlite", file: db.name, from: version, to: SCHEMA_VERSION },
    `${db.name} migrated to schema version ${SCHEMA_VERSION}`,
  );
}

/** better-sqlite3's statement type, under a name this module's declarations can use (its own is internal). */
export interface Statement extends Database.Statement {}

export type SqliteStatements = ReturnType<typeof prepareStatements>;

/**
 * How a stream row is read: its tail is the row's, or the end of its last
 * batch when that is further (schema 3: appends leave the row alone when only
 * the tail moved). length() of a blob reads the record header, not the blob.
 */
const STREAM_COLUMNS = streamColumnsWith({
  tail: `max(tail, coalesce((SELECT b.start + length(b.bytes) FROM batches AS b
           WHERE b.stream_id = streams.id ORDER BY b.start DESC LIMIT 1), 0))`,
});

/** Batches below this size come back with their query; larger ones through the batch cache. */
export const INLINE_BATCH_BYTES = 16 * 1024;

export function prepareStatements(db: Database.Database) {
  const prepare = (source: string): Statement => db.prepare(source);
  /** Returns rows as arrays, which skips building an object per row. */
  const prepareRaw = (source: string): Statement => db.prepare(source).raw(true);
  return {
    begin: prepare("BEGIN IMMEDIATE"),
    commit: prepare("COMMIT"),
    rollback: prepare("ROLLBACK"),
    savepoint: prepare("SAVEPOINT request"),
    release: prepare("RELEASE request"),
    rollbackToSavepoint: prepare("ROLLBACK TO request"),

    selectStream: prepare(`SELECT ${STREAM_COLUMNS} FROM streams WHERE path = ?`),
    insertStream: prepare(
      `INSERT INTO streams (${INSERT_COLUMNS}) VALUES (${INSERT_PARAMS.map((key) => `:${key}`).join(", ")})`,
    ),
    updateStream: prepare(
      `UPDATE streams SET content_type = :contentType, ttl_seconds = :ttlSeconds, expires_at = :expiresAt,
         last_access_at = :lastAccessAt, tail = :tail, closed = :closed, last_stream_seq = :lastStreamSeq,
         fork_count = :forkCount, soft_deleted = :softDeleted,
         closed_by_id = :closedById, closed_by_epoch = :closedByEpoch, closed_by_seq = :closedBySeq,
         earliest = :earliest, removed_bytes = :removedBytes
       WHERE id = :id`,
    ),
    touchStream: prepare("UPDATE streams SET last_access_at = ? WHERE id = ?"),
    deleteStream: prepare("DELETE FROM streams WHERE id = ?"),
    countStreams: prepare("SELECT count(*) AS n FROM streams"),
    // Prefix range as an index range: every valid UTF-8 continuation of the
    // prefix sorts below the prefix followed by byte 0xFF.
    list: prepare(
      `SELECT ${STREAM_COLUMNS} FROM streams
       WHERE path >= :prefix AND path < :prefix || CAST(x'FF' AS TEXT) AND (:after IS NULL OR path > :after)
       ORDER BY path LIMIT :limit`,
    ),
    expiredPaths: prepare(
      `SELECT path FROM streams WHERE expiry_at IS NOT NULL AND soft_deleted = 0 AND expiry_at <= ?
       ORDER BY expiry_at LIMIT ?`,
    ),

    insertBatch: prepare("INSERT INTO batches (stream_id, start, bytes, appended_at) VALUES (?, ?, ?, ?)"),
    batchAtOrBefore: prepareRaw(
      "SELECT start, bytes FROM batches WHERE stream_id = ? AND start <= ? ORDER BY start DESC LIMIT 1",
    ),
    // For reads through the batch cache: start and length of each batch, and its bytes only when it is small
    // (length() of a blob reads the record header, not the blob's overflow pages).
    batchSpanAtOrBefore: prepareRaw(
      `SELECT start, length(bytes), CASE WHEN length(bytes) < ${INLINE_BATCH_BYTES} THEN bytes END FROM batches
       WHERE stream_id = ? AND start <= ? ORDER BY start DESC LIMIT 1`,
    ),
    batchSpansAfter: prepareRaw(
      `SELECT start, length(bytes), CASE WHEN length(bytes) < ${INLINE_BATCH_BYTES} THEN bytes END FROM batches
       WHERE stream_id = ? AND start > ? AND start < ? ORDER BY start`,
    ),
    batchBytes: prepare("SELECT bytes FROM batches WHERE stream_id = ? AND start = ?").pluck(true) as Statement,
    deleteBatches: prepare("DELETE FROM batches WHERE stream_id = ?"),
    scanBatches: prepareRaw(
      "SELECT start, bytes, appended_at FROM batches WHERE stream_id = ? AND start >= ? AND start < ? ORDER BY start LIMIT ?",
    ),
    // length() of a blob reads its size from the record header, not the blob.
    headBatches: prepareRaw("SELECT start, length(bytes), appended_at FROM batches WHERE stream_id = ? ORDER BY start LIMIT ?"),
    batchSize: prepare("SELECT length(bytes) FROM batches WHERE stream_id = ? AND start = ?").pluck(),
    deleteBatch: prepare("DELETE FROM batches WHERE stream_id = ? AND start = ?"),
    deleteHead: prepare("DELETE FROM batches WHERE stream_id = ? AND start < ?"),
    forkLimit: prepare("SELECT min(earliest) FROM streams WHERE forked_from = ?").pluck(),

    selectProducer: prepare("SELECT epoch, last_seq FROM producers WHERE stream_id = ? AND producer_id = ?"),
    upsertProducer: prepare(
      `INSERT INTO producers (stream_id, producer_id, epoch, last_seq) VALUES (?, ?, ?, ?)
       ON CONFLICT (stream_id, producer_id) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq`,
    ),
    deleteProducers: prepare("DELETE FROM producers WHERE stream_id = ?"),
  };
}

/** A state as the named parameters of `insertStream` and `updateStream` (SQLite stores flags as 0/1). */
export function streamParams(state: StreamState) {
  return stateParams(state, (value) => (value ? 1 : 0));
}
