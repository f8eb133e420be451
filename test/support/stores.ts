/**
 * Starting a Rill server on each store for tests that must hold on all of
 * them: memory, SQLite in a temporary directory, PostgreSQL in a schema of
 * the test process's own (dropped when the server stops).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startServer, type RunningServer, type ServerOptions } from "@rill/server";

export const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export const STORE_KINDS = ["memory", "sqlite", "postgres"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

let schemas = 0;

/** A server on `kind`; `close()` also removes what the store left behind. */
export async function startOnStore(kind: StoreKind, options: ServerOptions = {}): Promise<RunningServer> {
  if (kind === "memory") return startServer({ port: 0, memory: true, ...options });
  if (kind === "sqlite") {
    const dataDir = mkdtempSync(join(tmpdir(), "rill-store-"));
    const server = await startServer({ port: 0, store: "sqlite", dataDir, ...options });
    return { ...server, close: () => server.close().finally(() => rmSync(dataDir, { recursive: true, force: true })) };
  }
  const schema = `rill_stores_${process.pid}_${schemas++}`;
  const server = await startServer({ port: 0, store: "postgres", databaseUrl: DATABASE_URL, postgres: { schema }, ...options });
  return { ...server, close: () => server.close().finally(() => dropSchema(schema)) };
}

async function dropSchema(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}
