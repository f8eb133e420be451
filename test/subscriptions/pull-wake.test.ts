import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { bearer, call, sleep, waitFor } from "./helpers.js";

// Pull-wake subscriptions: wake events on an application-created stream,
// one worker at a time under a lease, and fencing of workers that lost it.

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface WakeEvent {
  type: string;
  subscription_id: string;
  wake_id: string;
  generation: number;
  streams: string[];
}

async function setup(leaseTtlMs = 1000) {
  server = await startServer({ port: 0, memory: true });
  const base = server.streamsUrl;
  expect((await fetch(`${base}/wake/pool`, { method: "PUT", headers: { "content-type": "application/json" }, body: "[]" })).status).toBe(201);
  const sub = `${base}/__ds/subscriptions/jobs`;
  const created = await call(sub, "PUT", { type: "pull-wake", pattern: "jobs/**", wake_stream: "wake/pool", lease_ttl_ms: leaseTtlMs });
  expect(created.status).toBe(201);
  const events = async () => (await call(`${base}/wake/pool`, "GET")).body as WakeEvent[];
  const write = async (path: string, message: unknown, method = "POST") => {
    const res = await fetch(`${base}/${path}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
    expect(res.ok).toBe(true);
    return res.headers.get("stream-next-offset")!;
  };
  return { base, sub, events, write };
}

describe("pull-wake", () => {
  it("appends a wake event, hands the work to one worker, and takes acks and release", async () => {
    const { sub, events, write } = await setup();
    expect((await call(`${sub}/claim`, "POST", { worker: "w1" })).body.error.code).toBe("NO_PENDING_WORK");
    const tail = await write("jobs/eu/1", { job: 1 }, "PUT");
    const [event] = await waitFor(async () => (await events()).length === 1 && (await events()));
    expect(event).toMatchObject({ type: "wake", subscription_id: "jobs", generation: 1, streams: ["jobs/eu/1"] });

    const claim = await call(`${sub}/claim`, "POST", { worker: "w1" });
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({
      wake_id: event!.wake_id,
      generation: 1,
      lease_ttl_ms: 1000,
      streams: [{ path: "jobs/eu/1", link_type: "glob", acked_offset: "-1", tail_offset: tail, has_pending: true }],
    });
    const busy = await call(`${sub}/claim`, "POST", { worker: "w2" });
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: "ALREADY_CLAIMED", current_holder: "w1" });

    const { wake_id, generation, token } = claim.body;
    const ack = await call(`${sub}/ack`, "POST", { wake_id, generation, acks: [{ stream: "jobs/eu/1", offset: tail }], done: true }, bearer(token));
    expect(ack.body).toEqual({ ok: true, next_wake: false });
    expect((await call(`${sub}/ack`, "POST", { wake_id, generation, done: true }, bearer(token))).body.error.code).toBe("FENCED");

    // The append itself records pending work: a claim right after it succeeds.
    await write("jobs/eu/1", { job: 2 });
    const again = await call(`${sub}/claim`, "POST", { worker: "w2" });
    expect(again.status).toBe(200);
    expect(again.body.generation).toBe(2);
    const released = await call(`${sub}/release`, "POST", { wake_id: again.body.wake_id, generation: 2 }, bearer(again.body.token));
    expect(released.status).toBe(204);
    // The work is still pending, so it is offered again as a new wake.
    const offered = await waitFor(async () => (await events()).find((e) => e.generation === 3));
    expect(offered.streams).toEqual(["jobs/eu/1"]);
    const third = await call(`${sub}/claim`, "POST", { worker: "w3" });
    expect(third.body).toMatchObject({ wake_id: offered.wake_id, generation: 3 });
  });

  it("ends a silent worker's lease, offers the work again, and fences the stale worker", async () => {
    const { sub, events, write } = await setup();
    const tail = await write("jobs/a", { job: 1 }, "PUT");
    const first = (await call(`${sub}/claim`, "POST", { worker: "slow" })).body;
    await sleep(1_250);
    const [, rewake] = await waitFor(async () => (await events()).length === 2 && (await events()));
    expect(rewake!.generation).toBe(first.generation + 1);

    const second = await call(`${sub}/claim`, "POST", { worker: "fast" });
    expect(second.status).toBe(200);
    const stale = await call(`${sub}/ack`, "POST", { wake_id: first.wake_id, generation: first.generation, acks: [{ stream: "jobs/a", offset: tail }], done: true }, bearer(first.token));
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("FENCED");
    // The stale worker's ack moved nothing.
    expect((await call(sub, "GET")).body.streams[0].acked_offset).toBe("-1");
    expect((await call(`${sub}/release`, "POST", {}, bearer(first.token))).status).toBe(409);

    const done = await call(`${sub}/ack`, "POST", { wake_id: second.body.wake_id, generation: second.body.generation, acks: [{ stream: "jobs/a", offset: tail }], done: true }, bearer(second.body.token));
    expect(done.body).toEqual({ ok: true, next_wake: false });
    expect((await call(sub, "GET")).body.streams[0].acked_offset).toBe(tail);
  });

  it("keeps the claim while the worker heartbeats", async () => {
    const { sub, write } = await setup();
    await write("jobs/b", { job: 1 }, "PUT");
    const claim = (await call(`${sub}/claim`, "POST", { worker: "w1" })).body;
    for (let i = 0; i < 3; i++) {
      await sleep(600);
      const beat = await call(`${sub}/ack`, "POST", { wake_id: claim.wake_id, generation: claim.generation }, bearer(claim.token));
      expect(beat.body).toEqual({ ok: true, next_wake: false });
    }
    expect((await call(`${sub}/claim`, "POST", { worker: "w2" })).body.error.current_holder).toBe("w1");
  });

  it("refuses webhook-only and pull-only operations on the other kind", async () => {
    const { base, sub } = await setup();
    const hook = `${base}/__ds/subscriptions/hook`;
    await call(hook, "PUT", { type: "webhook", streams: ["x"], webhook: { url: "http://localhost:9/h" } });
    expect((await call(`${hook}/claim`, "POST", { worker: "w" })).body.error.code).toBe("INVALID_REQUEST");
    expect((await call(`${sub}/callback`, "POST", {}, bearer("x.y"))).body.error.code).toBe("INVALID_REQUEST");
    expect((await call(`${sub}/claim`, "POST", {})).status).toBe(400);
  });

  it("does not wake itself through its own wake stream", async () => {
    server = await startServer({ port: 0, memory: true });
    const base = server.streamsUrl;
    await fetch(`${base}/all/wake`, { method: "PUT", headers: { "content-type": "application/json" } });
    const sub = `${base}/__ds/subscriptions/everything`;
    await call(sub, "PUT", { type: "pull-wake", pattern: "**", wake_stream: "all/wake", lease_ttl_ms: 1000 });
    await fetch(`${base}/all/data`, { method: "PUT", headers: { "content-type": "text/plain" }, body: "x" });
    const claim = (await call(`${sub}/claim`, "POST", { worker: "w" })).body;
    expect(claim.streams.map((s: { path: string }) => s.path)).toEqual(["all/data"]);
    const done = await call(`${sub}/ack`, "POST", { wake_id: claim.wake_id, generation: claim.generation, acks: [{ stream: "all/data", offset: claim.streams[0].tail_offset }], done: true }, bearer(claim.token));
    expect(done.body.next_wake).toBe(false);
    expect((await call(sub, "GET")).body.streams.map((s: { path: string }) => s.path)).toEqual(["all/data"]);
  });

  it("treats a stream re-created after it expired as new work from its beginning", async () => {
    const { sub, write } = await setup();
    const res = await fetch(`${server!.streamsUrl}/jobs/short`, { method: "PUT", headers: { "content-type": "application/json", "stream-ttl": "1" }, body: '{"v":1}' });
    const tail = res.headers.get("stream-next-offset")!;
    const claim = (await call(`${sub}/claim`, "POST", { worker: "w" })).body;
    await call(`${sub}/ack`, "POST", { wake_id: claim.wake_id, generation: claim.generation, acks: [{ stream: "jobs/short", offset: tail }], done: true }, bearer(claim.token));
    await sleep(1_100);
    // Same path, new stream, shorter than the old cursor: all of it is pending.
    await write("jobs/short", { v: 2 }, "PUT");
    const again = await call(`${sub}/claim`, "POST", { worker: "w" });
    expect(again.status).toBe(200);
    expect(again.body.streams).toEqual([expect.objectContaining({ path: "jobs/short", acked_offset: "-1", has_pending: true })]);
  });
});
