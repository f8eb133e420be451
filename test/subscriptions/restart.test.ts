import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { freePort } from "../support/serve.js";
import { bearer, call, startReceiver, waitFor, type Receiver } from "./helpers.js";

// Subscription state on the durable store survives a restart: subscriptions,
// cursors, the signing key, outstanding wakes with their tokens, and a retry
// that was scheduled before the server stopped.

const dirs: string[] = [];
let server: RunningServer | undefined;
let receiver: Receiver | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  await receiver?.close();
  receiver = undefined;
});
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function fixture() {
  const dataDir = await mkdtemp(join(tmpdir(), "rill-subs-"));
  dirs.push(dataDir);
  // The same port each time: callback URLs handed out before a restart must still work after it.
  const port = await freePort();
  const restart = async () => {
    await server?.close();
    // Let this process's HTTP client see the old server's sockets close before reusing the port.
    await new Promise((resolve) => setTimeout(resolve, 50));
    server = await startServer({ port, dataDir });
    return server.streamsUrl;
  };
  return { dataDir, restart };
}

describe("subscriptions across a restart (SQLite)", () => {
  it("delivers a retry scheduled before the restart, and its token, cursor and key stay valid", async () => {
    const { dataDir, restart } = await fixture();
    let base = await restart();
    let failFirst = true;
    receiver = await startReceiver(`${base}/__ds/jwks.json`, () => {
      if (failFirst) {
        failFirst = false;
        return { status: 503 };
      }
      return { status: 200, body: {} };
    });
    const sub = `${base}/__ds/subscriptions/durable`;
    const created = await call(sub, "PUT", { type: "webhook", pattern: "jobs/*", webhook: { url: receiver.url }, lease_ttl_ms: 60_000 });
    const kid = created.body.webhook.signing.kid;
    const put = await fetch(`${base}/jobs/1`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"job":1}' });
    const tail = put.headers.get("stream-next-offset")!;

    // First attempt fails; stop before the retry (1 s ± 20%) is due.
    const failed = await receiver.delivery(0);
    await waitFor(async () => (await call(sub, "GET")).body.status === "failed");
    await server!.close();
    expect(receiver.deliveries).toHaveLength(1);

    base = await restart();
    const retried = await receiver.delivery(1, 4_000);
    expect(retried.verified).toBe(true);
    expect(retried.kid).toBe(kid);
    expect(retried.body.wake_id).toBe(failed.body.wake_id);
    expect(retried.body.generation).toBe(failed.body.generation);

    // Restart again between the wake and the callback: the lease and token survive.
    base = await restart();
    const wake = retried.body;
    const done = await call(
      wake.callback_url,
      "POST",
      { wake_id: wake.wake_id, generation: wake.generation, acks: [{ stream: "jobs/1", offset: tail }], done: true },
      bearer(wake.callback_token),
    );
    expect(done.body).toEqual({ ok: true, next_wake: false });

    await restart();
    const state = (await call(sub, "GET")).body;
    expect(state).toMatchObject({ id: "durable", status: "active", streams: [{ path: "jobs/1", link_type: "glob", acked_offset: tail }] });
    expect(state.webhook.signing.kid).toBe(kid);
    expect(receiver.deliveries).toHaveLength(2);
    // The database holds the private key: owner-only.
    expect((await stat(join(dataDir, "subscriptions.db"))).mode & 0o077).toBe(0);
  });

  it("lets a worker ack with its token after a restart, and fences it once its lease ran out meanwhile", async () => {
    const { restart } = await fixture();
    let base = await restart();
    await fetch(`${base}/wake`, { method: "PUT", headers: { "content-type": "application/json" } });
    const sub = `${base}/__ds/subscriptions/pool`;
    await call(sub, "PUT", { type: "pull-wake", streams: ["tasks"], wake_stream: "wake", lease_ttl_ms: 1_000 });
    await fetch(`${base}/tasks`, { method: "PUT", headers: { "content-type": "text/plain" }, body: "one" });
    const first = (await call(`${sub}/claim`, "POST", { worker: "w1" })).body;

    base = await restart();
    const beat = await call(`${sub}/ack`, "POST", { wake_id: first.wake_id, generation: first.generation }, bearer(first.token));
    expect(beat.body).toEqual({ ok: true, next_wake: false });
    expect((await call(`${sub}/claim`, "POST", { worker: "w2" })).body.error.current_holder).toBe("w1");

    // Down for longer than the lease: the expiry is applied at start-up and the work offered again.
    await server!.close();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    base = await restart();
    const stale = await call(`${sub}/ack`, "POST", { wake_id: first.wake_id, generation: first.generation, done: true }, bearer(first.token));
    expect(stale.body.error.code).toBe("FENCED");
    const events = await waitFor(async () => {
      const got = (await call(`${base}/wake`, "GET")).body as Array<{ generation: number }>;
      return got.some((event) => event.generation === first.generation + 1) && got;
    });
    expect(events.map((event) => event.generation)).toEqual([first.generation, first.generation + 1]);
    const second = await call(`${sub}/claim`, "POST", { worker: "w2" });
    expect(second.body.generation).toBe(first.generation + 1);
  });
});
