import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { parseExposition } from "../support/prometheus.js";

// Metrics are process-wide: each check is the difference between two scrapes around one pass.
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ memory: true, port: 0, maintenanceIntervalMs: 0, compactionLagMs: 0 });
});
afterAll(async () => {
  await server.close();
});

async function trimmed(by: string): Promise<[number, number]> {
  const exposition = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
  return [exposition.value("rill_trimmed_bytes_total", { by }), exposition.value("rill_trimmed_messages_total", { by })];
}

async function post(url: string, contentType: string, body: string): Promise<void> {
  expect((await fetch(url, { method: "POST", headers: { "content-type": contentType }, body })).status).toBe(204);
}

describe("retention and compaction metrics", () => {
  it("count the bytes and batches retention removes", async () => {
    const url = `${server.streamsUrl}/metrics/retained`;
    await fetch(url, { method: "PUT", headers: { "content-type": "text/plain", "rill-retention-bytes": "10" } });
    for (const part of ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"]) await post(url, "text/plain", part);
    const before = await trimmed("retention");
    await server.engine.maintainer.runAll();
    const after = await trimmed("retention");
    expect([after[0] - before[0], after[1] - before[1]]).toEqual([20, 2]);
  });

  it("count the bytes and messages compaction removes", async () => {
    const url = `${server.streamsUrl}/metrics/compacted`;
    await fetch(url, { method: "PUT", headers: { "content-type": "application/json", "rill-compaction": "key" } });
    const first = JSON.stringify({ type: "t", key: "k", value: 1, headers: { operation: "insert" } });
    const second = JSON.stringify({ type: "t", key: "k", value: 2, headers: { operation: "update" } });
    await post(url, "application/json", first);
    await post(url, "application/json", second);
    await new Promise((resolve) => setTimeout(resolve, 5)); // both batches older than the lag of 0
    const before = await trimmed("compaction");
    await server.engine.maintainer.runAll();
    const after = await trimmed("compaction");
    expect([after[0] - before[0], after[1] - before[1]]).toEqual([first.length + 1, 1]);
  });
});
