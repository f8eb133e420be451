import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { parseExposition } from "./support/prometheus.js";

// Two servers on one schema. Server B's LISTEN connection is cut while a
// long-poll reader waits on it, and server A appends before B is back: the
// notice is lost for B, yet its reader must wake as soon as B has
// reconnected (B then re-checks every stream it has readers on), well before
// the long-poll timeout.

const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `rill_resync_${process.pid}`;
const servers: RunningServer[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.end();
});

/** Backend pids of the servers' LISTEN connections on the schema, as pg_stat_activity lists them. */
async function listenPids(admin: pg.Client): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
    `rill-listen:${SCHEMA}`,
  ]);
  return rows.map((row) => row.pid);
}

/** Metrics are process-wide: A's LISTEN connection is never cut, so every reconnection counted is B's. */
async function listenReconnects(server: RunningServer): Promise<number> {
  return parseExposition(await (await fetch(`${server.url}/metrics`)).text()).value("rill_pg_listen_reconnects_total");
}

it("wakes a long-poll reader whose server missed the notice while its LISTEN connection was down", async () => {
  const options = {
    port: 0,
    store: "postgres" as const,
    databaseUrl: DATABASE_URL,
    // B stays disconnected for 250-500 ms before its first reconnection attempt.
    postgres: { schema: SCHEMA, listenMinBackoffMs: 500 },
    longPollTimeoutMs: 10_000,
  };
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  const a = await startServer(options);
  servers.push(a);
  const beforeB = new Set(await listenPids(admin));
  const b = await startServer(options);
  servers.push(b);
  // B's LISTEN connection: the one that was not there before B started.
  const [listenB, ...others] = (await listenPids(admin)).filter((pid) => !beforeB.has(pid));
  expect(listenB).toBeGreaterThan(0);
  expect(others).toEqual([]);
  const reconnects = await listenReconnects(b);
  const url = (server: RunningServer) => `${server.streamsUrl}/resync`;

  expect((await fetch(url(a), { method: "PUT", headers: { "content-type": "text/plain" }, body: "hello " })).status).toBe(201);
  const head = await fetch(url(b), { method: "HEAD" });
  const offset = head.headers.get("stream-next-offset")!;

  const started = performance.now();
  const waiting = fetch(`${url(b)}?offset=${offset}&live=long-poll`).then(async (res) => ({
    status: res.status,
    body: await res.text(),
    after: performance.now() - started,
  }));
  await new Promise((resolve) => setTimeout(resolve, 100));

  await admin.query("SELECT pg_terminate_backend($1)", [listenB]);
  await admin.end();
  expect((await fetch(url(a), { method: "POST", headers: { "content-type": "text/plain" }, body: "world" })).status).toBe(204);

  const woken = await waiting;
  expect(woken).toMatchObject({ status: 200, body: "world" });
  expect(woken.after).toBeLessThan(5_000);
  expect((await listenReconnects(b)) - reconnects).toBe(1);
});
