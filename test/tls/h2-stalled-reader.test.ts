/**
 * A reader over HTTP/2 whose stream window stays shut (it never reads)
 * while 150 MiB are appended must not make `rill serve` buffer them: the
 * server stops pushing past its pending-output bound, and once the reader
 * reads again it catches up from storage and receives every byte, in order.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type ClientHttp2Session } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { serve } from "../support/serve.js";
import { h2request, responseOf } from "./h2-client.js";

const MIB = 1024 * 1024;
const CHUNKS = 150;
const dataDir = mkdtempSync(join(tmpdir(), "rill-h2-stalled-"));
let child: ChildProcess | undefined;
let session: ClientHttp2Session | undefined;

afterAll(() => {
  session?.destroy();
  child?.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match![1]) * 1024;
}

/** Chunk i: one line, numbered, so order and completeness can be checked as it streams in. */
const chunk = (i: number) => Buffer.from(`${String(i).padStart(6, "0")}:${"x".repeat(MIB - 8)}\n`);

it("bounds what the server holds for a stalled HTTP/2 reader, which later receives every byte in order", async () => {
  const started = await serve(["--tls-self-signed", "--data-dir", dataDir, "--port", "0", "--no-console"]);
  child = started.child;
  session = connect(started.origin, { rejectUnauthorized: false });
  await new Promise((resolve) => session!.once("remoteSettings", resolve));
  const post = async (body: Buffer) => {
    const res = await h2request(session!, { ":method": "POST", ":path": "/v1/stream/stalled", "content-type": "text/plain" }, body);
    expect(res.status).toBe(204);
  };
  expect((await h2request(session, { ":method": "PUT", ":path": "/v1/stream/stalled", "content-type": "text/plain" })).status).toBe(201);

  const reader = session.request({ ":path": "/v1/stream/stalled?offset=-1&live=sse" });
  await responseOf(reader);
  reader.pause();
  for (let i = 0; i < 10; i++) await post(chunk(i)); // warm up the store and the connection
  const before = rssBytes(child.pid!);
  for (let i = 10; i < CHUNKS; i++) await post(chunk(i));
  const grown = rssBytes(child.pid!) - before;
  console.log(`server RSS grew by ${(grown / MIB).toFixed(1)} MiB while ${CHUNKS - 10} MiB were appended`);
  expect(grown).toBeLessThan(60 * MIB);

  // Now read: parse SSE as it arrives and check the lines of the data payloads.
  let parts: string[] = [];
  let payload = "";
  let next = 0;
  reader.setEncoding("utf8");
  reader.on("data", (part: string) => {
    // Events are megabytes long: keep the pieces and join them only once an event is complete.
    const previous = parts.at(-1) ?? "";
    parts.push(part);
    if (!part.includes("\n\n") && !(previous.endsWith("\n") && part.startsWith("\n"))) return;
    const events = parts.join("").split("\n\n");
    parts = [events.pop()!];
    for (const event of events) {
      if (!event.startsWith("event: data\n")) continue;
      payload += event
        .split("\n")
        .slice(1)
        .map((line) => line.slice("data:".length))
        .join("\n");
      const lines = payload.split("\n");
      payload = lines.pop()!;
      for (const line of lines) {
        expect(line.length).toBe(MIB - 1);
        expect(line.slice(0, 7)).toBe(`${String(next).padStart(6, "0")}:`);
        next++;
      }
    }
  });
  reader.resume();
  await expect.poll(() => next, { timeout: 30_000, interval: 100 }).toBe(CHUNKS);
}, 90_000);
