import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { DurableStream, stream as officialStream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve } from "../support/serve.js";

// The official client reads a 100 MB stream with `live: false` from `rill
// serve` (SQLite, a child process): it gets every byte in one response
// (that client stops after the first), while the server's resident memory
// stays far below the size of the stream, because the response is streamed
// from storage in pieces with backpressure.

const MiB = 1024 * 1024;
const APPEND_BYTES = 4 * MiB;
const APPENDS = 25; // 100 MiB

let child: ChildProcess;
let origin: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "rill-large-read-"));
  ({ child, origin } = await serve(["--port", "0", "--data-dir", dataDir, "--no-console"]));
}, 30_000);
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The server's resident set size in bytes, from /proc. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** One append's bytes: position-dependent, so a misplaced or repeated piece shows. */
function appendBody(index: number): Uint8Array {
  const body = new Uint8Array(APPEND_BYTES);
  for (let i = 0; i < body.length; i += 4096) body[i] = (index * 31 + i / 4096) & 0xff;
  return body;
}

describe("a 100 MB catch-up read with the official client", () => {
  it("arrives complete in one response, with the server's memory bounded", async () => {
    const url = `${origin}/v1/stream/large-${process.pid}`;
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream" });
    for (let i = 0; i < APPENDS; i++) await handle.append(appendBody(i));
    const total = APPENDS * APPEND_BYTES;

    const baseline = await rssOf(child.pid!);
    let peak = baseline;
    const sampler = setInterval(() => {
      rssOf(child.pid!).then((rss) => (peak = Math.max(peak, rss)), () => undefined);
    }, 10);

    const started = performance.now();
    let firstByteMs = -1;
    let received = 0;
    let mismatches = 0;
    const res = await officialStream({ url, live: false });
    const reader = res.bodyStream().getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (firstByteMs < 0) firstByteMs = performance.now() - started;
      // Every 4096th byte says which append and page it belongs to.
      for (let i = (4096 - (received % 4096)) % 4096; i < value.length; i += 4096) {
        const position = received + i;
        const expected = (Math.floor(position / APPEND_BYTES) * 31 + (position % APPEND_BYTES) / 4096) & 0xff;
        if (value[i] !== expected) mismatches++;
      }
      received += value.length;
    }
    const totalMs = performance.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, await rssOf(child.pid!));

    expect(received).toBe(total);
    expect(mismatches).toBe(0);
    expect(res.offset).toBe(`0000000000000000_${String(total).padStart(16, "0")}`);
    expect(res.upToDate).toBe(true);
    // Buffering the response would add at least its 100 MiB; streaming adds a few pieces, plus the
    // compressor's buffers and garbage not yet collected (the client asks for gzip, as fetch does).
    const growth = peak - baseline;
    expect(growth).toBeLessThan(64 * MiB);
    console.info(
      `100 MiB live:false read: first byte after ${firstByteMs.toFixed(1)} ms, all in ${totalMs.toFixed(0)} ms; ` +
        `server RSS ${(baseline / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(1)} MiB)`,
    );
  }, 120_000);
});
