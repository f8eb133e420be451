import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrate, PG_SCHEMA_VERSION } from "./postgres-schema.js";
import { PostgresStore } from "./postgres-store.js";
import { contents, T0 } from "./test-support.js";

// Upgrading a schema made by an older Rill, in a schema of this file's own.
const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `rill_upgrade_test_${process.pid}`;

afterAll(async () => {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  } finally {
    await admin.end();
  }
});

describe("PostgreSQL schema upgrade to retention", () => {
  it("keeps version-1 streams and batches, without a policy, their batches committed at the upgrade", async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await migrate(client, SCHEMA, 1);
      await client.query(
        `INSERT INTO "${SCHEMA}".streams (path, content_type, created_at, last_access_at, tail, closed, fork_offset, fork_count, soft_deleted)
         VALUES ('old', 'text/plain', $1, $1, 6, false, 0, 0, false)`,
        [T0],
      );
      await client.query(`INSERT INTO "${SCHEMA}".batches (stream_id, start, bytes) SELECT id, 0, 'abcdef'::bytea FROM "${SCHEMA}".streams`);
    } finally {
      await client.end();
    }
    const before = Date.now();
    const store = await PostgresStore.open({ connectionString: DATABASE_URL, schema: SCHEMA });
    try {
      expect(await store.getStream("old")).toMatchObject({ tail: 6, earliest: 0, removedBytes: 0, retention: null, compaction: null });
      expect(await contents(store, "old")).toBe("abcdef");
      const [batch] = await store.scanBatches("old", 0, 6, 10);
      expect(batch!.appendedAt).toBeGreaterThanOrEqual(before - 5_000);
      expect(await store.retain("old", { maxAgeSeconds: 60, maxBytes: null }, before)).toBeNull();
      expect((await store.retain("old", { maxAgeSeconds: 60, maxBytes: null }, before + 120_000))?.stream.earliest).toBe(6);
    } finally {
      await store.close();
    }
    const check = new pg.Client({ connectionString: DATABASE_URL });
    await check.connect();
    try {
      const { rows } = await check.query(`SELECT version FROM "${SCHEMA}".rill_schema_version`);
      expect(rows).toEqual([{ version: PG_SCHEMA_VERSION }]);
    } finally {
      await check.end();
    }
  });
});
