import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll } from "vitest";
import { startServer, type RunningServer } from "@rill/server";

// The official executable spec, against Rill on the durable SQLite store (a fresh data dir).
const config = { baseUrl: "", longPollTimeoutMs: 1_500, subscriptions: true };
let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "rill-conformance-"));
  server = await startServer({ port: 0, dataDir, longPollTimeoutMs: config.longPollTimeoutMs });
  config.baseUrl = server.url;
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

runConformanceTests(config);
