import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { startRoundRobin, type RoundRobin } from "./support/round-robin.js";

// The official executable spec against a cluster: three Rill servers on one
// PostgreSQL schema behind a round-robin balancer, so consecutive requests of
// one test (create, append, read, subscribe, callback, claim, ack) land on
// different servers. Streams, producers, live wake-ups and subscriptions must
// all be shared for this to pass.
const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `rill_cluster_${process.pid}`;
const config = { baseUrl: "", longPollTimeoutMs: 1_500, subscriptions: true };
const servers: RunningServer[] = [];
let balancer: RoundRobin;

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    servers.push(
      await startServer({
        port: 0,
        store: "postgres",
        databaseUrl: DATABASE_URL,
        postgres: { schema: SCHEMA },
        longPollTimeoutMs: config.longPollTimeoutMs,
      }),
    );
  }
  balancer = await startRoundRobin(servers.map((server) => server.url));
  config.baseUrl = balancer.url;
});
afterAll(async () => {
  await balancer?.close();
  await Promise.all(servers.map((server) => server.close()));
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.end();
});

runConformanceTests(config);
