import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { startAuthProxy, type AuthProxy } from "./support/auth-proxy.js";
import { hs256, SECRET } from "./support/tokens.js";

// The official executable spec with access control on (memory store): every
// request reaches Rill through a proxy that adds a bearer token, so the suite
// proves that a token holder sees the whole protocol unchanged.
const config = { baseUrl: "", longPollTimeoutMs: 1_500, subscriptions: true };
let server: RunningServer;
let proxy: AuthProxy;

beforeAll(async () => {
  server = await startServer({ port: 0, memory: true, longPollTimeoutMs: config.longPollTimeoutMs, access: { jwtSecret: SECRET } });
  const token = await hs256({ scope: "read:** write:** delete:** admin", expiresIn: 3600 });
  proxy = await startAuthProxy(server.url, () => `Bearer ${token}`);
  config.baseUrl = proxy.url;
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

it("is really guarded: the same server refuses requests without the proxy's token", async () => {
  const res = await fetch(`${server.streamsUrl}/conformance-probe`, { method: "PUT", headers: { "content-type": "text/plain" } });
  expect(res.status).toBe(401);
});

runConformanceTests(config);
