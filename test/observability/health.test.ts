import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer, type ServerOptions } from "@rill/server";
import { parseExposition } from "../support/prometheus.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

// /healthz and /readyz on every store. PostgreSQL is made unreachable through
// a TCP proxy this test owns (the real service stays up for everyone else).

const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `rill_health_${process.pid}`;
const servers: RunningServer[] = [];
const dirs: string[] = [];
let proxy: TcpProxy | null = null;

afterAll(async () => {
  // The proxy comes back first, so the PostgreSQL server can close cleanly.
  await proxy?.restore().catch(() => undefined);
  await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  await proxy?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.end();
});

async function start(options: ServerOptions): Promise<RunningServer> {
  const server = await startServer({ port: 0, ...options });
  servers.push(server);
  return server;
}

async function probe(server: RunningServer, path: "/healthz" | "/readyz") {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("health endpoints", () => {
  it("memory: alive and ready", async () => {
    const server = await start({ memory: true });
    expect(await probe(server, "/healthz")).toEqual({ status: 200, body: { status: "ok" } });
    expect(await probe(server, "/readyz")).toEqual({ status: 200, body: { status: "ready", store: "memory" } });
  });

  it("sqlite: ready while the database is open; 503 naming the reason once it is closed, while still alive", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rill-health-"));
    dirs.push(dir);
    const server = await start({ dataDir: dir });
    expect((await probe(server, "/readyz")).status).toBe(200);
    await server.store.close();
    const ready = await probe(server, "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatchObject({ code: "NOT_READY", store: "sqlite" });
    expect(ready.body.error.message).toMatch(/sqlite store is not usable: the database is closed/);
    expect((await probe(server, "/healthz")).status).toBe(200);
    await server.close(); // Its expiry sweeper would go on failing against the closed database.
  });

  it("/ is a page for a person: links to the console, the protocol docs, health and metrics", async () => {
    const server = await start({ memory: true, consolePath: "/console/" });
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await res.text();
    for (const href of ["/console/", "/healthz", "/readyz", "/metrics", "https://github.com/durable-streams/durable-streams"]) {
      expect(html).toContain(`href="${href}"`);
    }
    expect(html).toContain(`${server.streamsUrl}/demo`);
    // Anything else outside the base path is still a JSON 404.
    const other = await fetch(`${server.url}/nothing-here`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("never shadows a stream: a stream named healthz lives under the base path as usual", async () => {
    const server = await start({ memory: true, basePath: "/" });
    const put = await fetch(`${server.url}/healthz`, { method: "PUT", headers: { "content-type": "text/plain" }, body: "mine" });
    expect(put.status).toBe(201);
    expect(await (await fetch(`${server.url}/healthz?offset=-1`)).text()).toBe("mine");
  });

  it("postgres: /readyz turns 503 when the database is unreachable and 200 again when it is back, without a restart", async () => {
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(DATABASE_URL).port || 5432) });
    const viaProxy = new URL(DATABASE_URL);
    viaProxy.port = String(proxy.port);
    const server = await start({
      store: "postgres",
      databaseUrl: viaProxy.toString(),
      postgres: { schema: SCHEMA, listenMinBackoffMs: 50, listenMaxBackoffMs: 200 },
      readyTimeoutMs: 1_000,
    });
    expect(await probe(server, "/readyz")).toEqual({ status: 200, body: { status: "ready", store: "postgres" } });

    await proxy.cut();
    const down = await probe(server, "/readyz");
    expect(down.status).toBe(503);
    expect(down.body.error).toMatchObject({ code: "NOT_READY", store: "postgres" });
    expect(down.body.error.message).toMatch(/postgres store/);
    expect((await probe(server, "/healthz")).status).toBe(200);
    // Appends fail meanwhile, with a 5xx rather than a crash.
    const put = await fetch(`${server.streamsUrl}/while-down`, { method: "PUT", headers: { "content-type": "text/plain" } });
    expect(put.status).toBeGreaterThanOrEqual(500);

    await proxy.restore();
    await expect.poll(async () => (await probe(server, "/readyz")).status, { timeout: 10_000, interval: 100 }).toBe(200);
    const again = await fetch(`${server.streamsUrl}/after-restore`, { method: "PUT", headers: { "content-type": "text/plain" } });
    expect(again.status).toBe(201);
    // The LISTEN connection came back too, and the metrics tell the story.
    const scrape = async () => parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    await expect.poll(async () => (await scrape()).value("rill_pg_listen_up", { schema: SCHEMA }), { timeout: 10_000, interval: 100 }).toBe(1);
    const metrics = await scrape();
    expect(metrics.value("rill_pg_listen_reconnects_total")).toBeGreaterThanOrEqual(1);
    expect(metrics.value("rill_pg_resyncs_total")).toBeGreaterThanOrEqual(1);
    expect(metrics.value("rill_commit_round_requests_count", { store: "postgres" })).toBeGreaterThanOrEqual(1);
    expect(metrics.value("rill_store_commit_duration_seconds_count", { store: "postgres" })).toBeGreaterThanOrEqual(1);
    expect(metrics.value("rill_pg_pool_clients", { state: "waiting" })).toBe(0);
    expect(metrics.value("rill_pg_pool_clients", { state: "idle" })).toBeGreaterThanOrEqual(1);
    expect(metrics.value("rill_streams", { store: "postgres" })).toBe(1);
    expect(metrics.value("rill_store_size_bytes", { store: "postgres" })).toBeGreaterThan(0);
  });
});
