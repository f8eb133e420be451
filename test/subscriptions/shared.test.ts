import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { serve } from "../support/serve.js";
import { bearer, call, sleep, startReceiver, waitFor, type Answer, type Receiver } from "./helpers.js";

// Subscriptions shared by several servers on one PostgreSQL database: a
// subscription registered on one server hears appends made through any other,
// each wake is raised and delivered once in the whole cluster, consumers may
// call back, claim and ack through any server, and a server that stops in the
// middle of a delivery leaves it to the others.

const DATABASE_URL = process.env.RILL_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
let schemaCount = 0;
const schemas: string[] = [];
let servers: RunningServer[] = [];
const receivers: Receiver[] = [];

let currentSchema = "";

async function startOne(webhookTimeoutMs: number): Promise<RunningServer> {
  const server = await startServer({
    port: 0,
    store: "postgres",
    databaseUrl: DATABASE_URL,
    postgres: { schema: currentSchema },
    subscriptions: { webhookTimeoutMs },
  });
  servers.push(server);
  return server;
}

async function cluster(size: number, webhookTimeoutMs = 10_000): Promise<RunningServer[]> {
  currentSchema = `rill_shared_subs_${process.pid}_${schemaCount++}`;
  schemas.push(currentSchema);
  servers = [];
  for (let i = 0; i < size; i++) await startOne(webhookTimeoutMs);
  return [...servers];
}

async function receiver(jwksUrl: string | (() => string), answer: (index: number) => Answer | Promise<Answer>): Promise<Receiver> {
  const started = await startReceiver(jwksUrl, (_delivery, index) => answer(index));
  receivers.push(started);
  return started;
}

async function write(url: string, message: unknown, method = "POST"): Promise<string> {
  const res = await fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
  expect(res.ok).toBe(true);
  return res.headers.get("stream-next-offset")!;
}

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
});
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
  for (const started of receivers.splice(0)) await started.close();
});
afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

describe("subscriptions shared across servers", () => {
  it("delivers once per wake, whichever server took the append, signed with the cluster's one key", async () => {
    const [a, b, c] = await cluster(3);
    const hooks = await receiver(`${a!.streamsUrl}/__ds/jwks.json`, () => ({ status: 200, body: {} }));
    const created = await call(`${a!.streamsUrl}/__ds/subscriptions/orders`, "PUT", {
      type: "webhook",
      pattern: "orders/*",
      webhook: { url: hooks.url },
    });
    expect(created.status).toBe(201);
    // Every server publishes the same signing key and sees the subscription.
    const jwks = await Promise.all([a, b, c].map(async (server) => (await call(`${server!.streamsUrl}/__ds/jwks.json`, "GET")).body));
    expect(jwks[1]).toEqual(jwks[0]);
    expect(jwks[2]).toEqual(jwks[0]);
    expect((await call(`${c!.streamsUrl}/__ds/subscriptions/orders`, "GET")).status).toBe(200);

    const tail1 = await write(`${b!.streamsUrl}/orders/1`, { n: 1 }, "PUT");
    const first = await hooks.delivery(0);
    expect(first.verified).toBe(true);
    expect(first.body.streams).toEqual([expect.objectContaining({ path: "orders/1", tail_offset: tail1, has_pending: true })]);
    // More appends through other servers while the wake is outstanding raise no second wake.
    await write(`${c!.streamsUrl}/orders/1`, { n: 2 });
    await write(`${a!.streamsUrl}/orders/1`, { n: 3 });
    await sleep(1_000);
    expect(hooks.deliveries).toHaveLength(1);

    // The consumer calls back through yet another server; the pending work raises the next wake.
    const request = { wake_id: first.body.wake_id, generation: first.body.generation, done: true };
    const callback = first.body.callback_url.replace(a!.streamsUrl, c!.streamsUrl);
    const done = await call(callback, "POST", { ...request, acks: [{ stream: "orders/1", offset: tail1 }] }, bearer(first.body.callback_token));
    expect(done.body).toEqual({ ok: true, next_wake: true });
    const second = await hooks.delivery(1);
    expect(second.body.generation).toBe(first.body.generation + 1);
    expect(second.body.streams[0]).toMatchObject({ acked_offset: tail1 });
    await sleep(800);
    expect(hooks.deliveries).toHaveLength(2);
    // A stale token is fenced on every server.
    const stale = await call(first.body.callback_url.replace(a!.streamsUrl, b!.streamsUrl), "POST", request, bearer(first.body.callback_token));
    expect(stale.body.error.code).toBe("FENCED");
  });

  it("hands pull-wake work to one worker across servers, and a delete on one server is seen by all", async () => {
    const [a, b, c] = await cluster(3);
    await write(`${a!.streamsUrl}/wake/pool`, [], "PUT");
    const sub = (server: RunningServer) => `${server.streamsUrl}/__ds/subscriptions/jobs`;
    expect((await call(sub(a!), "PUT", { type: "pull-wake", pattern: "jobs/**", wake_stream: "wake/pool", lease_ttl_ms: 2_000 })).status).toBe(201);

    const tail = await write(`${b!.streamsUrl}/jobs/eu/1`, { job: 1 }, "PUT");
    const events = async () => (await call(`${c!.streamsUrl}/wake/pool`, "GET")).body as Array<{ wake_id: string; generation: number }>;
    const [event] = await waitFor(async () => (await events()).length === 1 && (await events()));

    const claim = await call(`${sub(c!)}/claim`, "POST", { worker: "w1" });
    expect(claim.body).toMatchObject({ wake_id: event!.wake_id, generation: 1 });
    for (const server of [a!, b!]) {
      const busy = await call(`${sub(server)}/claim`, "POST", { worker: "w2" });
      expect(busy.body.error).toMatchObject({ code: "ALREADY_CLAIMED", current_holder: "w1" });
    }
    const { wake_id, generation, token } = claim.body;
    const ack = await call(`${sub(a!)}/ack`, "POST", { wake_id, generation, acks: [{ stream: "jobs/eu/1", offset: tail }], done: true }, bearer(token));
    expect(ack.body).toEqual({ ok: true, next_wake: false });
    expect((await call(sub(b!), "GET")).body.streams).toEqual([expect.objectContaining({ path: "jobs/eu/1", acked_offset: tail })]);

    expect((await call(sub(b!), "DELETE")).status).toBe(204);
    for (const server of [a!, c!]) {
      await waitFor(async () => (await call(sub(server), "GET")).status === 404);
    }
    // Appends after the delete wake nobody.
    await write(`${a!.streamsUrl}/jobs/eu/1`, { job: 2 });
    await sleep(500);
    expect(await events()).toHaveLength(1);
  });

  it("retries through another server when the one delivering stops mid-POST", async () => {
    // The first POST hangs; its server stops while waiting for the answer. The second server starts
    // only once that POST is out, so the first is the one posting (with both up, either may win the wake).
    const [a] = await cluster(1, 1_000);
    let b: RunningServer | undefined;
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const hooks = await receiver(() => `${(b ?? a)!.streamsUrl}/__ds/jwks.json`, async (index) => {
      if (index === 0) await hung;
      return { status: 200, body: { done: true } };
    });
    await call(`${a!.streamsUrl}/__ds/subscriptions/audit`, "PUT", { type: "webhook", streams: ["audit/log"], webhook: { url: hooks.url } });
    const tail = await write(`${a!.streamsUrl}/audit/log`, { entry: 1 }, "PUT");
    const first = await hooks.delivery(0);
    b = await startOne(1_000);
    const stopped = a!.close();
    servers = [b!];
    await stopped;
    release();

    // Server b takes the delivery over once a's claim on it has run out (timeout + margin ≈ 3 s).
    const retry = await hooks.delivery(1, 10_000);
    expect(retry.body.wake_id).toBe(first.body.wake_id);
    expect(retry.verified).toBe(true);
    const state = await waitFor(async () => {
      const got = await call(`${b!.streamsUrl}/__ds/subscriptions/audit`, "GET");
      return got.body.streams[0].acked_offset === tail && got.body;
    }, 5_000);
    expect(state.status).toBe("active");
  });
});

describe("a server killed with SIGKILL mid-delivery", () => {
  it("leaves the wake to another server, which delivers it once the dead server's claim runs out", async () => {
    // `rill serve` processes use the schema "rill": they get a database of their own.
    const database = `rill_shared_kill_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
    const databaseUrl = Object.assign(new URL(DATABASE_URL), { pathname: `/${database}` }).toString();
    const args = ["--host", "127.0.0.1", "--port", "0", "--store", "postgres", "--database-url", databaseUrl, "--webhook-timeout", "1s"];
    // The second server starts once the first has posted the wake: with both up, either may win it.
    const first = await serve(args);
    let second: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      const hooks = await receiver(() => `${(second ?? first).origin}/v1/stream/__ds/jwks.json`, async (index) => {
        if (index === 0) await hung;
        return { status: 200, body: { done: true } };
      });
      const created = await call(`${first.origin}/v1/stream/__ds/subscriptions/killed`, "PUT", {
        type: "webhook",
        streams: ["killed/log"],
        webhook: { url: hooks.url },
      });
      expect(created.status).toBe(201);
      // The append goes through the first server, which raises the wake and posts it.
      const tail = await write(`${first.origin}/v1/stream/killed/log`, { entry: 1 }, "PUT");
      const posted = await hooks.delivery(0);
      second = await serve(args);
      const exited = new Promise((resolve) => first.child.once("exit", resolve));
      first.child.kill("SIGKILL");
      await exited;
      release();

      const retry = await hooks.delivery(1, 10_000);
      expect(retry.body.wake_id).toBe(posted.body.wake_id);
      expect(retry.verified).toBe(true);
      await waitFor(async () => {
        const got = await call(`${second!.origin}/v1/stream/__ds/subscriptions/killed`, "GET");
        return got.body.streams[0].acked_offset === tail;
      }, 5_000);
      // Nothing acknowledged was lost with the killed server.
      expect(await (await fetch(`${second!.origin}/v1/stream/killed/log?offset=-1`)).json()).toEqual([{ entry: 1 }]);
    } finally {
      for (const child of [first.child, second?.child]) {
        if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    }
  }, 40_000);
});
