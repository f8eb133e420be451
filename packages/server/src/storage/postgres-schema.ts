import type pg from "pg";

/**
 * The PostgreSQL store's tables, in one schema of the database (default
 * `rill`). `migrations[v]` brings version v to v + 1; the version reached is
 * kept in `<schema>.rill_schema_version`.
 */
export const PG_SCHEMA_VERSION = 1;

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
    -- expiryTime() from engine/model.ts, so the sweeper is an index range scan.
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
];

/** Schema names are used in SQL text and in the notification channel's name, so they are kept plain. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _ (at most 48)`);
  }
  return schema;
}

/**
 * Creates the schema or brings it to PG_SCHEMA_VERSION. Several servers may
 * start at once: each takes a transaction-scoped advisory lock keyed on the
 * schema name first, so one migrates while the others wait and then find the
 * work done. Every step runs in that one transaction (PostgreSQL DDL is
 * transactional), so a crash mid-migration leaves the previous version.
 */
export async function migrate(client: pg.ClientBase, schema: string): Promise<void> {
  const s = `"${checkSchemaName(schema)}"`;
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('rill-migrate'), hashtext($1))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.rill_schema_version (version integer NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.rill_schema_version`);
    let version = rows[0]?.version ?? 0;
    if (rows.length === 0) await client.query(`INSERT INTO ${s}.rill_schema_version (version) VALUES (0)`);
    if (version > PG_SCHEMA_VERSION) {
      throw new Error(`schema ${schema} is at version ${version}; this Rill understands up to ${PG_SCHEMA_VERSION}`);
    }
    for (; version < PG_SCHEMA_VERSION; version++) await client.query(migrations[version]!(s));
    await client.query(`UPDATE ${s}.rill_schema_version SET version = $1`, [version]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
