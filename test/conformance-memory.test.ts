import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll } from "vitest";
import { startServer, type RunningServer } from "@rill/server";

// The official executable spec, against Rill on the in-memory store.
const config = { baseUrl: "", longPollTimeoutMs: 1_500, subscriptions: true };
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ port: 0, memory: true, longPollTimeoutMs: config.longPollTimeoutMs });
  config.baseUrl = server.url;
});
afterAll(async () => {
  await server?.close();
});

runConformanceTests(config);
