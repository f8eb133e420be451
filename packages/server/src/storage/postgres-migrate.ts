import type pg from "pg";
import { log } from "../logging/logger.js";

/** One set of versioned tables in a schema: the stream store's, or the subscription store's. */
export interface MigrationSet {
  /** Table holding the version reached, e.g. rill_schema_version. */
  versionTable: string;
  /** Advisory-lock key, so servers starting at once migrate one at a time. */
  lockKey: string;
  /** `migrations[v]` brings version v to v + 1; given the quoted schema name. */
  migrations: readonly ((quotedSchema: string) => string)[];
  /** What the tables are, for the error a newer schema gives. */
  what: string;
}

/**
 * Creates the schema or brings the set's tables to its latest version, in
 * one transaction under a transaction-scoped advisory lock keyed on the set
 * and the schema: one server migrates while the others wait and then find
 * the work done, and a crash mid-migration leaves the previous version
 * (PostgreSQL DDL is transactional). `schema` must be checked by the caller.
 */
export async function runMigrations(client: pg.ClientBase, schema: string, set: MigrationSet): Promise<void> {
  const s = `"${schema}"`;
  const latest = set.migrations.length;
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [set.lockKey, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.${set.versionTable} (version integer NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.${set.versionTable}`);
    let version = rows[0]?.version ?? 0;
    if (rows.length === 0) await client.query(`INSERT INTO ${s}.${set.versionTable} (version) VALUES (0)`);
    if (version > latest) {
      throw new Error(`schema ${schema} has ${set.what} at version ${version}; this Rill understands up to ${latest}`);
    }
    const from = version;
    for (; version < latest; version++) await client.query(set.migrations[version]!(s));
    await client.query(`UPDATE ${s}.${set.versionTable} SET version = $1`, [version]);
    await client.query("COMMIT");
    if (from < version) {
      log().info(
        { event: "store_migrated", store: "postgres", schema, tables: set.what, from, to: version },
        `PostgreSQL ${set.what} in ${schema} migrated to version ${version}`,
      );
    }
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
