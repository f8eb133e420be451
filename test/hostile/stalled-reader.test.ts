import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { serve } from "../support/serve.js";
import { RawSseReader, rssOf, sleep, stopChild, watchRss, type SseEvent } from "./support.js";

// A live reader whose socket stops draining must not make the server keep
// every frame for it. One SSE reader stops reading while 512 MiB are
// appended; the server (a `rill serve` child on SQLite) may grow by less
// than 100 MB, and once the reader reads again it gets every byte, in
// order, exactly once.

const CHUNK = 1024 * 1024;
const CHUNKS = 512;
const TOTAL = CHUNK * CHUNKS;
const WARM_UP_CHUNKS = 16;

/** Append number i: a header naming it, then one letter repeated (no newlines: one SSE data line). */
function chunk(i: number): Buffer {
  const bytes = Buffer.alloc(CHUNK, 97 + (i % 26));
  bytes.write(`#${String(i).padStart(8, "0")}:`, 0, "latin1");
  return bytes;
}

let server: ChildProcess | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  await stopChild(server);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it("keeps a stalled SSE reader's backlog bounded and catches it up from storage, every byte once and in order", { timeout: 120_000 }, async () => {
  dataDir = await mkdtemp(join(tmpdir(), "rill-stalled-"));
  const started = await serve(["--port", "0", "--data-dir", dataDir, "--no-console"]);
  server = started.child;
  const pid = server.pid!;
  const port = Number(new URL(started.origin).port);
  const url = `${started.origin}/v1/stream/firehose`;
  expect((await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);

  // The reader checks what it receives as it goes: data must continue exactly at the expected position.
  let received = 0;
  let lastOffset = "";
  let mismatch: string | null = null;
  let expectedChunk = -1;
  let expected = Buffer.alloc(0);
  const onEvent = ({ event, data }: SseEvent) => {
    if (event === "control") {
      lastOffset = (JSON.parse(data.toString("utf8")) as { streamNextOffset: string }).streamNextOffset;
      if (Number(lastOffset.split("_")[1]) !== received) mismatch ??= `control offset ${lastOffset} after ${received} bytes`;
      return;
    }
    for (let at = 0; at < data.length && mismatch === null; ) {
      const index = Math.floor(received / CHUNK);
      if (index !== expectedChunk) [expectedChunk, expected] = [index, chunk(index)];
      const within = received % CHUNK;
      const take = Math.min(data.length - at, CHUNK - within);
      if (!data.subarray(at, at + take).equals(expected.subarray(within, within + take))) {
        mismatch = `bytes at ${received} differ from append ${index}`;
      }
      at += take;
      received += take;
    }
  };
  const openReader = (offset: string) => new RawSseReader(port, `/v1/stream/firehose?offset=${offset}&live=sse`, onEvent);

  let reader = openReader("-1");
  await reader.ready;
  expect(reader.status).toBe(200);

  const append = async (i: number) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: chunk(i) });
    expect(res.status).toBe(204);
  };
  // Warm up (allocator, caches, the reader's first frames) before taking the baseline.
  for (let i = 0; i < WARM_UP_CHUNKS; i++) await append(i);
  while (received < WARM_UP_CHUNKS * CHUNK) await sleep(20);
  reader.socket.pause();
  await sleep(300);
  const baseline = rssOf(pid);
  const rss = watchRss(pid);

  // One writer, so the stream's order is the appends' order.
  for (let i = WARM_UP_CHUNKS; i < CHUNKS; i++) await append(i);
  await sleep(500);
  rss.stop();
  const peakGrowth = rss.peak() - baseline;
  const stalledAt = received;
  console.log(
    `stalled reader: ${TOTAL / CHUNK} MiB appended; server RSS ${(baseline / 2 ** 20).toFixed(0)} MiB → peak ` +
      `${(rss.peak() / 2 ** 20).toFixed(0)} MiB (+${(peakGrowth / 2 ** 20).toFixed(1)} MiB); reader had ${(stalledAt / 2 ** 20).toFixed(1)} MiB`,
  );
  expect(peakGrowth).toBeLessThan(100 * 1024 * 1024);
  expect(stalledAt).toBeLessThan(TOTAL / 4);

  // Reading again: everything arrives. A connection the server recycles meanwhile is resumed at its
  // last offset, as any SSE client does.
  reader.socket.resume();
  const deadline = Date.now() + 60_000;
  while (received < TOTAL && mismatch === null && Date.now() < deadline) {
    const closed = await Promise.race([reader.closed.then(() => true), sleep(100).then(() => false)]);
    if (closed && received < TOTAL) {
      reader = openReader(lastOffset);
      await reader.ready;
    }
  }
  reader.socket.destroy();
  expect(mismatch).toBeNull();
  expect(received).toBe(TOTAL);
  expect(Number(lastOffset.split("_")[1])).toBe(TOTAL);
});
