import type pg from "pg";
import { runMigrations } from "./postgres-migrate.js";

/**
 * The PostgreSQL store's tables, in one schema of the database (default
 * `rill`). `migrations[v]` brings version v to v + 1; the version reached is
 * kept in `<schema>.rill_schema_version`.
 */
const migrations: readonly ((s: string) => string)[] = [
  (s) => `
  CREATE TABLE ${s}.streams (
    id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Byte order (C collation): listing pages in the same order as the other stores.
    path            text    COLLATE "C" NOT NULL UNIQUE,
    content_type    text    NOT NULL,
    ttl_seconds     bigint,
    expires_at      bigint,
    created_at      bigint  NOT NULL,
    last_access_at  bigint  NOT NULL,
    tail            bigint  NOT NULL,
    closed          boolean NOT NULL,
    last_stream_seq text,
    forked_from     text    COLLATE "C",
    fork_offset     bigint  NOT NULL,
    fork_count      bigint  NOT NULL,
    soft_deleted    boolean NOT NULL,
    closed_by_id    text,
    closed_by_epoch bigint,
    closed_by_seq   bigint,
    -- expiryTime() from domain/model.ts, so the sweeper is an index range scan.
    expiry_at       bigint GENERATED ALWAYS AS (
      CASE WHEN ttl_seconds IS NULL THEN expires_at
           WHEN expires_at IS NULL THEN last_access_at + ttl_seconds * 1000
           ELSE least(expires_at, last_access_at + ttl_seconds * 1000) END) STORED
  );
  CREATE INDEX streams_expiry ON ${s}.streams (expiry_at) WHERE expiry_at IS NOT NULL AND NOT soft_deleted;

  -- One row per append (or initial PUT body): bytes from start to start + octet_length(bytes).
  CREATE TABLE ${s}.batches (
    stream_id bigint NOT NULL,
    start     bigint NOT NULL,
    bytes     bytea  NOT NULL,
    PRIMARY KEY (stream_id, start)
  );

  CREATE TABLE ${s}.producers (
    stream_id   bigint NOT NULL,
    producer_id text   NOT NULL,
    epoch       bigint NOT NULL,
    last_seq    bigint NOT NULL,
    PRIMARY KEY (stream_id, producer_id)
  );
  `,
  // 2: retention and key compaction (docs/retention.md). Batches committed
  // before this version count as committed when the schema was upgraded.
  (s) => `
  ALTER TABLE ${s}.streams
    ADD COLUMN retention_age   bigint,
    ADD COLUMN retention_bytes bigint,
    ADD COLUMN compaction      text,
    ADD COLUMN earliest        bigint NOT NULL DEFAULT 0,
    ADD COLUMN removed_bytes   bigint NOT NULL DEFAULT 0;
  CREATE INDEX streams_forks ON ${s}.streams (forked_from) WHERE forked_from IS NOT NULL;
  ALTER TABLE ${s}.batches ADD COLUMN appended_at bigint NOT NULL DEFAULT 0;
  UPDATE ${s}.batches SET appended_at = (extract(epoch FROM now()) * 1000)::bigint;
  `,
];

/** The version the stream tables are brought to. */
export const PG_SCHEMA_VERSION = migrations.length;

/** Schema names are used in SQL text and in the notification channel's name, so they are kept plain. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _ (at most 48)`);
  }
  return schema;
}

/**
 * Creates the schema or brings the stream tables to PG_SCHEMA_VERSION (see
 * runMigrations). `target` stops earlier: tests build an older schema with it.
 */
export async function migrate(client: pg.ClientBase, schema: string, target = PG_SCHEMA_VERSION): Promise<void> {
  await runMigrations(client, checkSchemaName(schema), {
    versionTable: "rill_schema_version",
    lockKey: "rill-migrate",
    migrations: migrations.slice(0, target),
    what: "stream tables",
  });
}
