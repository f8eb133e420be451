import { connect } from "node:net";
import { afterEach, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { parseExposition } from "../support/prometheus.js";

// The limits show in /metrics: a refused connection, a reader that fell
// behind, and the error answers by code. Scraped on the private metrics port,
// which the connection limit does not count.

let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function scrape() {
  return parseExposition(await (await fetch(`${server!.metricsUrl}/metrics`)).text());
}

it("counts a connection refused at the connection limit", async () => {
  server = await startServer({ memory: true, port: 0, metricsPort: 0, limits: { maxConnections: 1 } });
  const before = (await scrape()).value("rill_connections_refused_total", { limit: "total" });
  const { port } = new URL(server.url);
  const held = connect(Number(port), "127.0.0.1");
  await new Promise((resolve) => held.once("connect", resolve));
  try {
    await expect.poll(async () => (await scrape()).value("rill_http_open_connections")).toBe(1);
    const refused = await fetch(`${server.streamsUrl}/x?offset=-1`);
    expect(refused.status).toBe(503);
    expect((await scrape()).value("rill_connections_refused_total", { limit: "total" }) - before).toBe(1);
  } finally {
    held.destroy();
  }
});

it("counts an SSE reader that fell behind and was dropped at recycling, and error answers by code", async () => {
  server = await startServer({
    memory: true,
    port: 0,
    metricsPort: 0,
    limits: { maxPendingOutputBytes: 64 * 1024 },
    // Recycled soon: a reader still stuck behind its backlog then is disconnected.
    sseRecycleMs: 2_000,
  });
  const before = await scrape();
  const url = `${server.streamsUrl}/flood`;
  expect((await fetch(url, { method: "PUT", headers: { "content-type": "application/octet-stream" } })).status).toBe(201);
  // A reader that never reads: once the socket buffers are full, output waits in the server and the bound is crossed.
  const { port } = new URL(server.url);
  const reader = connect(Number(port), "127.0.0.1");
  await new Promise((resolve) => reader.once("connect", resolve));
  reader.pause();
  reader.write(`GET /v1/stream/flood?offset=-1&live=sse HTTP/1.1\r\nhost: x\r\n\r\n`);
  try {
    await expect.poll(async () => (await scrape()).value("rill_live_readers", { mode: "sse" })).toBe(1);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 16; i++) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: chunk });
      expect(res.status).toBe(204);
    }
    await expect
      .poll(async () => (await scrape()).value("rill_sse_readers_paused_total") - before.value("rill_sse_readers_paused_total"), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(1);
    await expect
      .poll(async () => (await scrape()).value("rill_sse_readers_dropped_total") - before.value("rill_sse_readers_dropped_total"), {
        timeout: 10_000,
      })
      .toBe(1);
  } finally {
    reader.destroy();
  }
  expect((await fetch(`${server.streamsUrl}/absent?offset=-1`)).status).toBe(404);
  const after = await scrape();
  expect(after.value("rill_http_errors_total", { code: "stream_not_found" }) - before.value("rill_http_errors_total", { code: "stream_not_found" })).toBe(1);
});
