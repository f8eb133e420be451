import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { bearer, call, sleep, startReceiver, verifySignature, waitFor, type Answer, type Delivery, type Receiver } from "./helpers.js";

// Webhook subscriptions end to end: a real receiver checks every delivery's
// signature against the server's JWKS.

let server: RunningServer | undefined;
const receivers: Receiver[] = [];

afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const receiver of receivers.splice(0)) await receiver.close();
});

async function setup(answer: (index: number, delivery: Delivery) => Answer | Promise<Answer>, subscription: Record<string, unknown> = {}) {
  server = await startServer({ port: 0, memory: true });
  const base = server.streamsUrl;
  const receiver = await startReceiver(`${base}/__ds/jwks.json`, (delivery, index) => answer(index, delivery));
  receivers.push(receiver);
  const sub = `${base}/__ds/subscriptions/orders`;
  const created = await call(sub, "PUT", { type: "webhook", pattern: "orders/*", webhook: { url: receiver.url }, lease_ttl_ms: 1000, ...subscription });
  expect(created.status).toBe(201);
  return { base, receiver, sub, created: created.body };
}

async function append(url: string, message: unknown, method = "POST") {
  const res = await fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
  expect(res.ok).toBe(true);
  return res.headers.get("stream-next-offset")!;
}

describe("webhook deliveries", () => {
  it("signs every delivery with the key the JWKS publishes, and auto-acks on a synchronous done", async () => {
    const { base, receiver, sub, created } = await setup(() => ({ status: 200, body: { done: true } }));
    const tail1 = await append(`${base}/orders/1`, { n: 1 }, "PUT");
    const first = await receiver.delivery(0);
    const tail2 = await append(`${base}/orders/1`, { n: 2 });
    const second = await receiver.delivery(1);

    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
    expect(first.kid).toBe(created.webhook.signing.kid);
    expect(first.body.streams).toEqual([
      { path: "orders/1", link_type: "glob", acked_offset: "-1", tail_offset: tail1, has_pending: true },
    ]);
    expect(second.body.generation).toBe(first.body.generation + 1);
    expect(second.body.wake_id).not.toBe(first.body.wake_id);
    expect(second.body.streams[0]).toMatchObject({ acked_offset: tail1, tail_offset: tail2 });
    expect(first.body.callback_url).toBe(`${base}/__ds/subscriptions/orders/callback`);

    // The verifier is not a rubber stamp: a changed body or a foreign key fails.
    const jwks = (await call(`${base}/__ds/jwks.json`, "GET")).body;
    expect(verifySignature(first.rawBody.replace('"orders/1"', '"orders/2"'), first.signature, jwks)).toBe(false);
    expect(verifySignature(first.rawBody, first.signature, { keys: [] })).toBe(false);

    const state = await waitFor(async () => {
      const got = await call(sub, "GET");
      return got.body.streams[0].acked_offset === tail2 && got.body;
    });
    expect(state.status).toBe("active");
  });

  it("an asynchronous consumer heartbeats past the lease, acks part of the work, then finishes", async () => {
    const { base, receiver, sub } = await setup(() => ({ status: 200, body: {} }));
    const tail1 = await append(`${base}/orders/a`, { n: 1 }, "PUT");
    const wake = (await receiver.delivery(0)).body;
    const request = { wake_id: wake.wake_id, generation: wake.generation };

    // Heartbeats (no done) renew the 1 s lease, so 1.4 s later the wake is still ours.
    await sleep(700);
    const beat = await call(wake.callback_url, "POST", { ...request, acks: [{ stream: "orders/a", offset: tail1 }] }, bearer(wake.callback_token));
    expect(beat).toMatchObject({ status: 200, body: { ok: true, next_wake: false } });
    expect((await call(sub, "GET")).body.streams[0].acked_offset).toBe(tail1);
    await sleep(700);
    const done = await call(wake.callback_url, "POST", { ...request, done: true }, bearer(wake.callback_token));
    expect(done.body).toEqual({ ok: true, next_wake: false });
    expect(receiver.deliveries).toHaveLength(1);
  });

  it("re-delivers after the lease runs out and fences the consumer that went quiet", async () => {
    const { base, receiver } = await setup(() => ({ status: 200, body: {} }));
    const tail = await append(`${base}/orders/b`, { n: 1 }, "PUT");
    const stale = (await receiver.delivery(0)).body;
    const fresh = (await receiver.delivery(1, 3_000)).body;
    expect(fresh.generation).toBe(stale.generation + 1);
    expect(receiver.deliveries[1]!.at - receiver.deliveries[0]!.at).toBeGreaterThanOrEqual(950);

    const late = await call(stale.callback_url, "POST", { wake_id: stale.wake_id, generation: stale.generation, done: true }, bearer(stale.callback_token));
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: "FENCED", generation: fresh.generation });
    // Mixing the new wake's id into the old token does not help either.
    const mixed = await call(fresh.callback_url, "POST", { wake_id: fresh.wake_id, generation: fresh.generation, done: true }, bearer(stale.callback_token));
    expect(mixed.body.error.code).toBe("FENCED");

    const ok = await call(fresh.callback_url, "POST", { wake_id: fresh.wake_id, generation: fresh.generation, acks: [{ stream: "orders/b", offset: tail }], done: true }, bearer(fresh.callback_token));
    expect(ok.body).toEqual({ ok: true, next_wake: false });
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
  });

  it("retries a failing webhook with exponential backoff, reporting the subscription as failed meanwhile", async () => {
    const { base, receiver, sub } = await setup((index) => (index < 2 ? { status: 500 } : { status: 200, body: { done: true } }));
    const tail = await append(`${base}/orders/c`, { n: 1 }, "PUT");
    await receiver.delivery(0);
    await waitFor(async () => (await call(sub, "GET")).body.status === "failed");
    await receiver.delivery(2, 6_000);
    const [a, b, c] = receiver.deliveries;
    // Same wake each time; 1 s then 2 s apart, within the 20% jitter.
    expect(new Set(receiver.deliveries.map((d) => d.body.wake_id)).size).toBe(1);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(750);
    expect(b!.at - a!.at).toBeLessThanOrEqual(1_500);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(1_550);
    expect(c!.at - b!.at).toBeLessThanOrEqual(2_700);
    const state = await waitFor(async () => {
      const got = (await call(sub, "GET")).body;
      return got.status === "active" && got.streams[0].acked_offset === tail && got;
    });
    expect(state.streams[0].acked_offset).toBe(tail);
  });

  it("answers next_wake when work arrived during the wake, and delivers it", async () => {
    const { base, receiver } = await setup(() => ({ status: 200, body: {} }));
    const tail1 = await append(`${base}/orders/d`, { n: 1 }, "PUT");
    const wake = (await receiver.delivery(0)).body;
    const tail2 = await append(`${base}/orders/d`, { n: 2 });
    const done = await call(wake.callback_url, "POST", { wake_id: wake.wake_id, generation: wake.generation, acks: [{ stream: "orders/d", offset: tail1 }], done: true }, bearer(wake.callback_token));
    expect(done.body).toEqual({ ok: true, next_wake: true });
    const next = (await receiver.delivery(1)).body;
    expect(next.streams[0]).toMatchObject({ acked_offset: tail1, tail_offset: tail2, has_pending: true });
  });

  it("delivers the next wake even when the consumer finished the last one before answering its POST", async () => {
    // The consumer calls back `done` (acknowledging nothing) from inside its webhook handler, so the next
    // wake is raised while the first POST is still waiting for its answer.
    const { base, receiver } = await setup(async (index, delivery) => {
      if (index === 0) {
        const { wake_id, generation, callback_url, callback_token } = delivery.body;
        const done = await call(callback_url, "POST", { wake_id, generation, done: true }, bearer(callback_token));
        expect(done.body).toEqual({ ok: true, next_wake: true });
      }
      return { status: 200, body: index === 0 ? {} : { done: true } };
    });
    await append(`${base}/orders/f`, { n: 1 }, "PUT");
    const second = await receiver.delivery(1, 2_000);
    expect(second.body.generation).toBe(receiver.deliveries[0]!.body.generation + 1);
    await sleep(300);
    expect(receiver.deliveries).toHaveLength(2);
  });

  it("requires the token in the Authorization header and checks acks against the cursor and tail", async () => {
    const { base, receiver } = await setup(() => ({ status: 200, body: {} }));
    const tail = await append(`${base}/orders/e`, { n: 1 }, "PUT");
    const wake = (await receiver.delivery(0)).body;
    const request = { wake_id: wake.wake_id, generation: wake.generation };

    const missing = await call(wake.callback_url, "POST", { ...request, callback_token: wake.callback_token });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("TOKEN_INVALID");
    const forged = await call(wake.callback_url, "POST", request, bearer(`${wake.callback_token.split(".")[0]}.AAAA`));
    expect(forged.status).toBe(401);
    const elsewhere = await call(`${base}/__ds/subscriptions/other/callback`, "POST", request, bearer(wake.callback_token));
    expect(elsewhere.status).toBe(404);

    for (const acks of [
      [{ stream: "orders/e", offset: "0000000000000000_0000000000009999" }], // past the tail
      [{ stream: "orders/e", offset: "-1" }],
      [{ stream: "orders/unknown", offset: tail }],
    ]) {
      const bad = await call(wake.callback_url, "POST", { ...request, acks }, bearer(wake.callback_token));
      expect(bad.status).toBe(409);
      expect(bad.body.error.code).toBe("INVALID_OFFSET");
    }
    const malformed = await call(wake.callback_url, "POST", { ...request, acks: "all" }, bearer(wake.callback_token));
    expect(malformed.status).toBe(400);
    const ok = await call(wake.callback_url, "POST", { ...request, acks: [{ stream: "orders/e", offset: tail }], done: true }, bearer(wake.callback_token));
    expect(ok.status).toBe(200);
  });
});

describe("subscription resources", () => {
  it("confirms identical re-creation, refuses a different configuration, and links existing streams at their tails", async () => {
    server = await startServer({ port: 0, memory: true });
    const base = server.streamsUrl;
    const existing = await append(`${base}/logs/old`, { n: 1 }, "PUT");
    await fetch(`${base}/logs/deep/er`, { method: "PUT" });
    const sub = `${base}/__ds/subscriptions/logs`;
    const config = { type: "pull-wake", pattern: "/logs/*/", streams: ["b", "a", "a"], wake_stream: "wake/logs" };
    const created = await call(sub, "PUT", config);
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(sub);
    expect(created.body).toMatchObject({
      id: "logs",
      type: "pull-wake",
      pattern: "logs/*",
      wake_stream: "wake/logs",
      lease_ttl_ms: 30_000,
      status: "active",
      streams: [
        { path: "a", link_type: "explicit", acked_offset: "-1" },
        { path: "b", link_type: "explicit", acked_offset: "-1" },
        { path: "logs/old", link_type: "glob", acked_offset: existing },
      ],
    });
    expect(created.body.webhook).toBeUndefined();
    // Same configuration written differently: same normalized hash.
    expect((await call(sub, "PUT", { ...config, pattern: "logs/*", streams: ["a", "b"] })).status).toBe(200);
    const conflict = await call(sub, "PUT", { ...config, lease_ttl_ms: 5_000 });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe("SUBSCRIPTION_ALREADY_EXISTS");

    for (const bad of [
      { type: "push", pattern: "x/*" },
      { type: "pull-wake", wake_stream: "w" },
      { type: "pull-wake", pattern: "x/*" },
      { type: "pull-wake", pattern: "x/ab*", wake_stream: "w" },
      { type: "pull-wake", pattern: "x/*", wake_stream: "w", lease_ttl_ms: 999 },
      { type: "pull-wake", streams: ["w"], wake_stream: "w" },
      { type: "webhook", pattern: "x/*" },
      { type: "webhook", pattern: "__ds/*", webhook: { url: "https://example.com/h" } },
    ]) {
      const res = await call(`${base}/__ds/subscriptions/bad`, "PUT", bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe("INVALID_REQUEST");
    }
    expect((await call(`${base}/__ds/subscriptions/bad`, "PUT", "{nope")).status).toBe(400);

    expect((await call(`${sub}/streams`, "POST", { streams: ["logs/old"] })).status).toBe(204);
    expect((await call(sub, "GET")).body.streams.find((s: { path: string }) => s.path === "logs/old").link_type).toBe("explicit");
    // Removing explicit membership keeps a stream the pattern still takes in.
    expect((await call(`${sub}/streams/${encodeURIComponent("logs/old")}`, "DELETE")).status).toBe(204);
    expect((await call(`${sub}/streams/a`, "DELETE")).status).toBe(204);
    const paths = (await call(sub, "GET")).body.streams.map((s: { path: string; link_type: string }) => `${s.path}:${s.link_type}`);
    expect(paths).toEqual(["b:explicit", "logs/old:glob"]);

    expect((await call(sub, "DELETE")).status).toBe(204);
    expect((await call(sub, "GET")).body.error.code).toBe("SUBSCRIPTION_NOT_FOUND");
    expect((await call(sub, "DELETE")).status).toBe(404);
    expect((await call(`${base}/__ds/nothing`, "GET")).status).toBe(404);
  });

  it("builds handed-out URLs from publicUrl when one is configured", async () => {
    server = await startServer({ port: 0, memory: true, publicUrl: "https://streams.example.com/" });
    const res = await call(`${server.streamsUrl}/__ds/subscriptions/p`, "PUT", { type: "webhook", pattern: "p/*", webhook: { url: "https://hooks.example.com/x" } });
    expect(res.body.webhook.signing.jwks_url).toBe("https://streams.example.com/v1/stream/__ds/jwks.json");
    const jwks = await fetch(`${server.streamsUrl}/__ds/jwks.json`);
    expect(jwks.headers.get("content-type")).toBe("application/jwk-set+json");
    const { keys } = (await jwks.json()) as { keys: Array<Record<string, string>> };
    expect(keys).toEqual([{ kty: "OKP", crv: "Ed25519", x: expect.any(String), kid: res.body.webhook.signing.kid, use: "sig", alg: "EdDSA" }]);
  });
});
