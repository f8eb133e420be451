import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";

// Server behaviour beyond the official suite: limits, streamed bodies, shutdown, recycling.
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof startServer>[0] = {}) {
  server = await startServer({ port: 0, memory: true, ...options });
  return server;
}

async function create(url: string, contentType = "text/plain") {
  const res = await fetch(url, { method: "PUT", headers: { "content-type": contentType } });
  expect(res.status).toBe(201);
}

describe("request bodies", () => {
  it("rejects a body over the limit with 413 and leaves the stream untouched", async () => {
    const { streamsUrl } = await start({ maxBodyBytes: 1024 });
    const url = `${streamsUrl}/limited`;
    await create(url);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(2048) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
    const ok = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "y".repeat(1024) });
    expect(ok.status).toBe(204);
    expect(await (await fetch(url)).text()).toBe("y".repeat(1024));
  });

  it("accepts a chunked (streamed) request body as one append", async () => {
    const { streamsUrl } = await start();
    const url = new URL(`${streamsUrl}/chunked`);
    await create(url.href);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: "POST", headers: { "content-type": "text/plain", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      let i = 0;
      const tick = () => {
        if (i === 5) return void req.end();
        req.write(`part${i++};`);
        setTimeout(tick, 10);
      };
      tick();
    });
    expect(status).toBe(204);
    expect(await (await fetch(url)).text()).toBe("part0;part1;part2;part3;part4;");
  });

  it("names the problem in a JSON error body", async () => {
    const { streamsUrl } = await start();
    const url = `${streamsUrl}/errors`;
    await create(url, "application/json");
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "producer-id": "p", "producer-epoch": "x", "producer-seq": "0" },
      body: "{}",
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe("INVALID_HEADER");
    expect(body.error.message).toMatch(/Producer-Epoch/);
  });

  it("refuses paths that are not streams", async () => {
    const { url } = await start();
    expect((await fetch(`${url}/v1/stream/`)).status).toBe(404);
    expect((await fetch(`${url}/elsewhere`)).status).toBe(404);
    expect((await fetch(`${url}/v1/stream/a//b`)).status).toBe(404);
  });
});

describe("live readers", () => {
  it("wakes every long-poll waiter with the same committed data", async () => {
    const { streamsUrl } = await start({ longPollTimeoutMs: 10_000 });
    const url = `${streamsUrl}/fanout`;
    await create(url, "application/json");
    const tail = (await fetch(url, { method: "HEAD" })).headers.get("stream-next-offset")!;
    const waiters = Array.from({ length: 20 }, () => fetch(`${url}?offset=${tail}&live=long-poll`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: `{"n":1}` });
    const responses = await Promise.all(waiters);
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([{ n: 1 }]);
      expect(res.headers.get("stream-up-to-date")).toBe("true");
    }
  });

  it("keeps a long-poll waiting through a wake-up that brings nothing new", async () => {
    const running = await start({ longPollTimeoutMs: 10_000 });
    const url = `${running.streamsUrl}/spurious`;
    await create(url);
    const tail = (await fetch(url, { method: "HEAD" })).headers.get("stream-next-offset")!;
    const poll = fetch(`${url}?offset=${tail}&live=long-poll`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // What another server's resync notice looks like: the stream may have changed, no data attached.
    running.engine.hub.publish({ path: "spurious", start: 0, end: 0, data: null, closed: false, gone: false });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "real news" });
    const res = await poll;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("real news");
  });

  it("ends SSE connections after the recycle interval at a resumable offset", async () => {
    const { streamsUrl } = await start({ sseRecycleMs: 300 });
    const url = `${streamsUrl}/recycle`;
    await create(url);
    await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" });
    const started = Date.now();
    const res = await fetch(`${url}?offset=-1&live=sse`);
    const text = await res.text(); // resolves only when the server ends the response
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(text).toContain("data:hello");
    const last = [...text.matchAll(/"streamNextOffset":"([^"]+)"/g)].at(-1)![1];
    const again = await fetch(`${url}?offset=${last}`);
    expect(await again.text()).toBe("");
  });

  it("answers waiting readers and finishes cleanly on shutdown", async () => {
    const running = await start({ longPollTimeoutMs: 60_000, sseRecycleMs: 60_000 });
    const url = `${running.streamsUrl}/shutdown`;
    await create(url);
    const tail = (await fetch(url, { method: "HEAD" })).headers.get("stream-next-offset")!;
    const poll = fetch(`${url}?offset=${tail}&live=long-poll`);
    const sse = fetch(`${url}?offset=${tail}&live=sse`).then((res) => res.text());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await running.close();
    server = undefined;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await poll).status).toBe(204);
    expect(await sse).toContain("event: control");
  });
});

describe("stream listing (__ds/streams)", () => {
  it("lists live streams by prefix, page by page, with their metadata", async () => {
    const { streamsUrl } = await start();
    for (const name of ["logs/a", "logs/b", "logs/c", "other/x"]) await create(`${streamsUrl}/${name}`);
    await fetch(`${streamsUrl}/logs/b`, { method: "POST", headers: { "content-type": "text/plain" }, body: "12345" });
    await fetch(`${streamsUrl}/logs/c`, { method: "DELETE" });

    const first = await (await fetch(`${streamsUrl}/__ds/streams?prefix=logs/&limit=1`)).json();
    expect(first.streams.map((s: { path: string }) => s.path)).toEqual(["logs/a"]);
    expect(first.next).toBe("logs/a");
    const second = await (await fetch(`${streamsUrl}/__ds/streams?prefix=logs/&limit=5&after=${first.next}`)).json();
    expect(second.streams).toEqual([
      expect.objectContaining({ path: "logs/b", bytes: 5, contentType: "text/plain", closed: false, nextOffset: "0000000000000000_0000000000000005" }),
    ]);
    expect(second.next).toBeNull();
  });

  it("rejects a bad page size and never treats __ds as a stream", async () => {
    const { streamsUrl } = await start();
    expect((await fetch(`${streamsUrl}/__ds/streams?limit=0`)).status).toBe(400);
    expect((await fetch(`${streamsUrl}/__ds/streams`, { method: "POST", body: "x" })).status).toBe(405);
    expect((await fetch(`${streamsUrl}/__ds/whatever`, { method: "PUT" })).status).toBe(404);
  });
});
