import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { startServer, type RunningServer } from "@rill/server";

// The official executable spec, against Rill on the PostgreSQL store, in a
// schema of its own that is dropped afterwards.
const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `rill_conformance_${process.pid}`;
const config = { baseUrl: "", longPollTimeoutMs: 1_500, subscriptions: true };
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({
    port: 0,
    store: "postgres",
    databaseUrl: DATABASE_URL,
    postgres: { schema: SCHEMA },
    longPollTimeoutMs: config.longPollTimeoutMs,
  });
  config.baseUrl = server.url;
});
afterAll(async () => {
  await server?.close();
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.end();
});

runConformanceTests(config);
