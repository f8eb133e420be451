import type { ChildProcess } from "node:child_process";
import type { RunningServer, ServerOptions } from "@rill/server";
import { formatOffset } from "@rill/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { serve } from "./support/serve.js";
import { STORE_KINDS, startOnStore, type StoreKind } from "./support/stores.js";

// Catch-up reads as one streamed response (docs/reads.md): the whole range
// up to --max-read, cut on a message boundary past it, --read-chunk for CDN
// chunks, and headers that describe the range fixed when the request came.

let server: RunningServer | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  child = undefined;
});

async function streamWith(options: ServerOptions, contentType: string, bodies: string[], kind: StoreKind = "memory") {
  server = await startOnStore(kind, options);
  const url = `${server.streamsUrl}/s`;
  await fetch(url, { method: "PUT", headers: { "content-type": contentType } });
  for (const body of bodies) await fetch(url, { method: "POST", headers: { "content-type": contentType }, body });
  return url;
}

describe("catch-up reads", () => {
  it.each(STORE_KINDS)("send a JSON stream of many pieces as one valid array, with its length and range in the headers (%s)", async (kind) => {
    const message = JSON.stringify({ pad: "z".repeat(1000) });
    const bodies = Array.from({ length: 40 }, () => `[${Array.from({ length: 100 }, () => message).join(",")}]`);
    const url = await streamWith({}, "application/json", bodies, kind); // about 4 MB: several 1 MiB pieces
    // Identity: the length checked is the stored range's (fetch would otherwise ask for br/gzip, docs/deployment.md).
    const res = await fetch(`${url}?offset=-1`, { headers: { "accept-encoding": "identity" } });
    const text = await res.text();
    expect(Number(res.headers.get("content-length"))).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text)).toHaveLength(4000);
    expect(res.headers.get("stream-up-to-date")).toBe("true");
    const tail = res.headers.get("stream-next-offset")!;
    expect(tail).toBe(formatOffset(4000 * (message.length + 1)));
    const etag = res.headers.get("etag")!;
    expect(etag).toContain(tail);
    const again = await fetch(`${url}?offset=-1`, { headers: { "if-none-match": etag, "accept-encoding": "identity" } });
    expect(again.status).toBe(304);
  });

  it("cut the connection when the stream is deleted while its body streams, rather than send a wrong body", async () => {
    const part = "p".repeat(4 * 1024 * 1024);
    const url = await streamWith({}, "text/plain", Array.from({ length: 8 }, () => part));
    const res = await fetch(`${url}?offset=-1`, { headers: { "accept-encoding": "identity" } });
    expect(res.headers.get("content-length")).toBe(String(8 * part.length));
    const reader = res.body!.getReader();
    let received = (await reader.read()).value!.length;
    // Unread, the response waits on backpressure well before its 32 MiB are out.
    expect((await fetch(url, { method: "DELETE" })).status).toBe(204);
    const outcome = await (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return "ended";
        received += value.length;
      }
    })().catch(() => "cut");
    expect(outcome).toBe("cut");
    expect(received).toBeLessThan(8 * part.length);
    expect((await fetch(`${url}?offset=-1`)).status).toBe(404);
  });

  it("stop past --max-read at the last message boundary, without Stream-Up-To-Date, and read on from there", async () => {
    const url = await streamWith({ maxReadBytes: 10 }, "text/plain", ["aaaa", "bbbb", "cccc", "dddddddddddddddd"]);
    const first = await fetch(`${url}?offset=-1`);
    expect(await first.text()).toBe("aaaabbbb");
    expect(first.headers.get("stream-up-to-date")).toBeNull();
    expect(first.headers.get("stream-next-offset")).toBe(formatOffset(8));
    expect(first.headers.get("cache-control")).toContain("public");
    const second = await fetch(`${url}?offset=${formatOffset(8)}`);
    expect(await second.text()).toBe("cccc");
    // One message larger than the limit comes whole.
    const third = await fetch(`${url}?offset=${formatOffset(12)}`);
    expect(await third.text()).toBe("d".repeat(16));
    expect(third.headers.get("stream-up-to-date")).toBe("true");
  });

  it("take --read-chunk and RILL_MAX_READ from rill serve, and refuse a zero size", async () => {
    const read = async (args: string[], env: NodeJS.ProcessEnv) => {
      const started = await serve(["--memory", "--port", "0", "--no-console", ...args], { env: { ...process.env, ...env } });
      child = started.child;
      const url = `${started.origin}/v1/stream/flags`;
      await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" } });
      for (const part of ["abc", "def", "ghi"]) await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: part });
      const res = await fetch(`${url}?offset=-1`);
      const body = await res.text();
      const exited = new Promise((resolve) => started.child.once("exit", resolve));
      started.child.kill("SIGTERM");
      await exited;
      return { body, upToDate: res.headers.get("stream-up-to-date") };
    };
    expect(await read(["--read-chunk", "6"], {})).toEqual({ body: "abcdef", upToDate: null });
    expect(await read([], { RILL_MAX_READ: "5" })).toEqual({ body: "abc", upToDate: null });
    expect(await read([], {})).toEqual({ body: "abcdefghi", upToDate: "true" });
    const refused = await serve(["--memory", "--port", "0", "--max-read", "0"]).catch((error: Error) => error.message);
    expect(refused).toContain('a size above zero is needed, not "0"');
  });
});
