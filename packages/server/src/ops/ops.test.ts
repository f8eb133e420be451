import { describe, expect, it } from "vitest";
import { startServer } from "../server.js";
import { MemoryStore } from "../storage/memory-store.js";
import { routeKind } from "../http/observe.js";

describe("routeKind", () => {
  const kind = (method: string, url: string) => routeKind("/v1/stream", method, url);
  it("names every kind of request without looking at the stream name", () => {
    expect(kind("GET", "/v1/stream/a/b?offset=-1")).toBe("catch-up");
    expect(kind("GET", "/v1/stream/a?offset=now&live=long-poll")).toBe("long-poll");
    expect(kind("GET", "/v1/stream/a?live=sse&offset=-1")).toBe("sse");
    expect(kind("GET", "/v1/stream/live=sse")).toBe("catch-up");
    expect(kind("POST", "/v1/stream/a")).toBe("append");
    expect(kind("PUT", "/v1/stream/a")).toBe("create");
    expect(kind("DELETE", "/v1/stream/a")).toBe("delete");
    expect(kind("HEAD", "/v1/stream/a")).toBe("head");
    expect(kind("PUT", "/v1/stream/__ds/subscriptions/x")).toBe("subscription");
    expect(kind("GET", "/v1/stream/__ds/streams")).toBe("control");
    expect(kind("OPTIONS", "/v1/stream/a")).toBe("preflight");
    expect(kind("GET", "/metrics")).toBe("other");
    expect(kind("GET", "/v1/stream/")).toBe("other");
    expect(kind("PATCH", "/v1/stream/a")).toBe("other");
  });
});

describe("/readyz during shutdown", () => {
  it("answers 503 'shutting down' once close() has begun, while in-flight appends still commit", async () => {
    // A store whose appends wait for a signal keeps close() (which drains them) in progress.
    const store = new MemoryStore();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const appendInFlight = new Promise<void>((resolve) => (entered = resolve));
    const append = store.append.bind(store);
    store.append = async (command, now) => {
      entered();
      await held;
      return append(command, now);
    };
    // The private metrics port keeps answering until the drain is over, so it can be asked meanwhile.
    const server = await startServer({ store, port: 0, metricsPort: 0 });
    const ready = async () => {
      const res = await fetch(`${server.metricsUrl}/readyz`);
      return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
    };
    expect((await ready()).status).toBe(200);
    expect((await fetch(`${server.streamsUrl}/s`, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);
    // Its answer may be cut by the connections closing at the end of shutdown: what counts is that it committed.
    const appending = fetch(`${server.streamsUrl}/s`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }).catch(() => null);
    await appendInFlight;
    const closing = server.close();
    expect(await ready()).toEqual({ status: 503, body: { error: { code: "NOT_READY", message: "the server is shutting down", store: "memory" } } });
    release();
    await closing;
    await appending;
    expect((await store.getStream("s"))?.tail).toBe(1);
  });
});

describe("a private metrics port", () => {
  it("that is taken fails start-up with the listen error", async () => {
    const { createServer } = await import("node:net");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startServer({ memory: true, port: 0, metricsPort: port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
