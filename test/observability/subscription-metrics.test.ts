import { PassThrough } from "node:stream";
import { afterAll, expect, it } from "vitest";
import { createLogger, startServer, type RunningServer } from "@rill/server";
import { parseExposition } from "../support/prometheus.js";
import { call, startReceiver, waitFor, type Receiver } from "../subscriptions/helpers.js";

// A webhook that fails once and then finishes: the wake, both delivery
// outcomes and the retry queue show in /metrics, and the failure is a
// structured log event.

let server: RunningServer;
let receiver: Receiver;
let logged = "";
const output = new PassThrough().on("data", (chunk: Buffer) => (logged += chunk.toString("utf8")));

afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

it("counts wakes, failed and finished deliveries, and the retry queue; logs the failure with its fields", async () => {
  server = await startServer({ port: 0, memory: true, logger: createLogger({ level: "warn", destination: output }) });
  const scrape = async () => parseExposition(await (await fetch(`${server.url}/metrics`)).text());
  const before = await scrape();
  receiver = await startReceiver(`${server.streamsUrl}/__ds/jwks.json`, (_delivery, index) =>
    index === 0 ? { status: 500 } : { status: 200, body: { done: true } },
  );
  const sub = `${server.streamsUrl}/__ds/subscriptions/metered`;
  expect((await call(sub, "PUT", { type: "webhook", pattern: "metered/*", webhook: { url: receiver.url } })).status).toBe(201);
  const put = await fetch(`${server.streamsUrl}/metered/a`, { method: "PUT", headers: { "content-type": "application/json" }, body: "[1]" });
  expect(put.status).toBe(201);

  await receiver.delivery(0);
  const failed = await waitFor(async () => {
    const now = await scrape();
    return now.value("rill_subscription_deliveries_total", { outcome: "failed" }) > before.value("rill_subscription_deliveries_total", { outcome: "failed" }) && now;
  });
  expect(failed.value("rill_subscription_wakes_total", { type: "webhook" }) - before.value("rill_subscription_wakes_total", { type: "webhook" })).toBe(1);
  expect(failed.value("rill_subscription_retry_queue_depth")).toBe(1);
  expect(failed.value("rill_http_requests_total", { method: "PUT", route: "subscription", status_class: "2xx" })).toBeGreaterThanOrEqual(1);

  await receiver.delivery(1, 5_000);
  const done = await waitFor(async () => {
    const now = await scrape();
    return now.value("rill_subscription_deliveries_total", { outcome: "done" }) > before.value("rill_subscription_deliveries_total", { outcome: "done" }) && now;
  });
  expect(done.value("rill_subscription_retry_queue_depth")).toBe(0);
  expect(done.value("rill_subscription_deliveries_total", { outcome: "failed" }) - before.value("rill_subscription_deliveries_total", { outcome: "failed" })).toBe(1);

  const event = logged
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.event === "webhook_delivery_failed");
  expect(event).toMatchObject({ level: 40, subscription: "metered", reason: "the webhook answered 500", attempts: 1 });
  expect(event!.retry_in_ms).toBeGreaterThan(0);
});
