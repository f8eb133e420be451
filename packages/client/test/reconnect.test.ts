import { describe, expect, it } from "vitest";
import { DurableStream, FetchError, stream, type RetryOpts } from "../src/index.js";
import { deferred, truncate, until } from "./support/fetch-tools.js";
import { jsonStream, useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 300 });

const quick = { initialDelay: 2, maxDelay: 20, multiplier: 2 };

/** Appends 0..count-1 in small groups while a reader runs. */
async function produce(handle: DurableStream, count: number) {
  for (let i = 0; i < count; i += 7) {
    await Promise.all(Array.from({ length: Math.min(7, count - i) }, (_, k) => handle.append(i + k)));
  }
  await handle.close();
}

describe("SSE reconnection", () => {
  it.each(["error", "end"] as const)("connections cut mid-event (%s) lose and repeat nothing", async (mode) => {
    const { url, handle } = await jsonStream(server, [], "rc");
    let connections = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      if (new URL(String(input)).searchParams.get("live") !== "sse") return response;
      connections++;
      // Cut each connection after a varying number of bytes, usually inside an event.
      return truncate(response, 40 + (connections % 5) * 37, mode);
    };
    const res = await stream<number>({ url, fetch, live: "sse", backoffOptions: quick, sseResilience: { minConnectionDuration: 0 } });
    const items: number[] = [];
    res.subscribeJson((batch) => {
      items.push(...batch.items);
    });
    await produce(handle, 300);
    await res.closed;
    expect(items).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(connections).toBeGreaterThan(3);
  });

  it("reconnects from the last control event when the server ends the connection", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    const offsets: string[] = [];
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const target = new URL(String(input));
      if (target.searchParams.get("live") === "sse") offsets.push(target.searchParams.get("offset")!);
      const response = await globalThis.fetch(input, init);
      // End every SSE connection after its first control event, as a server recycling connections would.
      if (target.searchParams.get("live") !== "sse") return response;
      const text = new TextDecoder();
      const reader = response.body!.getReader();
      let seen = "";
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          seen += text.decode(value, { stream: true });
          controller.enqueue(value);
          if (seen.includes("event: control")) {
            await reader.cancel();
            controller.close();
          }
        },
      });
      return new Response(body, { headers: response.headers, status: response.status });
    };
    const res = await stream<number>({ url, fetch, live: "sse", backoffOptions: quick, sseResilience: { minConnectionDuration: 0 } });
    const items: number[] = [];
    res.subscribeJson((batch) => {
      items.push(...batch.items);
    });
    await produce(handle, 40);
    await res.closed;
    expect(items).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(offsets.length).toBeGreaterThan(1);
  });
});

describe("SSE resilience", () => {
  it("falls back to long-poll after repeated short connections", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    const modes: string[] = [];
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const live = new URL(String(input)).searchParams.get("live");
      if (live) modes.push(live);
      const response = await globalThis.fetch(input, init);
      // A buffering proxy: SSE answers end before anything gets through.
      return live === "sse" ? truncate(response, 0, "end") : response;
    };
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (message: string) => void warnings.push(message);
    try {
      const res = await stream<number>({
        url,
        fetch,
        live: "sse",
        sseResilience: { maxShortConnections: 2, backoffBaseDelay: 1, backoffMaxDelay: 5 },
      });
      const items: number[] = [];
      res.subscribeJson((batch) => {
        items.push(...batch.items);
      });
      await until(() => modes.includes("long-poll"), "the switch to long-poll");
      await produce(handle, 10);
      await res.closed;
      expect(items).toEqual(Array.from({ length: 10 }, (_, i) => i));
    } finally {
      console.warn = warn;
    }
    expect(modes.slice(0, 3)).toEqual(["sse", "sse", "long-poll"]);
    expect(modes.slice(2).every((mode) => mode === "long-poll")).toBe(true);
    expect(warnings.join()).toMatch(/long-poll/);
  });
});

describe("long-poll and catch-up faults", () => {
  it("retries network errors and broken bodies without gaps or repeats", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    let calls = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      calls++;
      if (calls % 3 === 0) throw new TypeError("fetch failed");
      const response = await globalThis.fetch(input, init);
      return calls % 4 === 0 && response.body ? truncate(response, 3, "error") : response;
    };
    const res = await stream<number>({ url, fetch, live: "long-poll", backoffOptions: quick });
    const items: number[] = [];
    res.subscribeJson((batch) => {
      items.push(...batch.items);
    });
    await produce(handle, 120);
    await res.closed;
    expect(items).toEqual(Array.from({ length: 120 }, (_, i) => i));
  });

  it("waits at least Retry-After on 503", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    await handle.append(1);
    let refused = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (refused++ === 0) return new Response("busy", { status: 503, headers: { "retry-after": "0.15" } });
      return globalThis.fetch(input, init);
    };
    const started = Date.now();
    const res = await stream({ url, fetch, live: false, backoffOptions: quick });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(await res.json()).toEqual([1]);
  });
});

describe("onError", () => {
  /** A gate in front of the server that only lets the current token through. */
  function authGate() {
    const state = { token: "t1", refused: 0 };
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const auth = new Headers(init?.headers).get("authorization");
      if (auth !== `Bearer ${state.token}`) {
        state.refused++;
        return new Response("token expired", { status: 401 });
      }
      return globalThis.fetch(input, init);
    };
    return { state, fetch };
  }

  it("refreshes headers after a 401 on the first request", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    await handle.append("1");
    const gate = authGate();
    const errors: unknown[] = [];
    const res = await stream({
      url,
      fetch: gate.fetch,
      live: false,
      headers: { authorization: "Bearer stale" },
      onError: (error): RetryOpts | void => {
        errors.push(error);
        if (error instanceof FetchError && error.status === 401) return { headers: { authorization: "Bearer t1" } };
      },
    });
    expect(await res.json()).toEqual([1]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  });

  it.each(["sse", "long-poll"] as const)("refreshes headers when a %s reconnect is refused", async (live) => {
    const { url, handle } = await jsonStream(server, [], "rc");
    const gate = authGate();
    let token = "t1";
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await gate.fetch(input, init);
      // Keep SSE connections short so reconnects happen.
      return new URL(String(input)).searchParams.get("live") === "sse" && response.ok ? truncate(response, 120, "end") : response;
    };
    const refreshes: number[] = [];
    const res = await stream<number>({
      url,
      fetch,
      live,
      backoffOptions: quick,
      sseResilience: { minConnectionDuration: 0 },
      headers: { authorization: () => `Bearer ${token}` },
      onError: (error) => {
        if (!(error instanceof FetchError) || error.status !== 401) return;
        refreshes.push(error.status);
        token = gate.state.token;
        return {};
      },
    });
    const items: number[] = [];
    res.subscribeJson((batch) => {
      items.push(...batch.items);
    });
    for (let i = 0; i < 30; i++) {
      if (i === 10 || i === 20) gate.state.token = `t${i}`;
      await handle.append(i);
    }
    await handle.close();
    await res.closed;
    expect(items).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
  });

  it("giving up rejects stream() with the error, and a later failure rejects closed", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    const gate = authGate();
    await expect(stream({ url, fetch: gate.fetch, headers: { authorization: "Bearer nope" }, onError: () => undefined })).rejects.toMatchObject({
      status: 401,
    });

    const res = await stream<number>({ url, fetch: gate.fetch, live: "long-poll", headers: { authorization: "Bearer t1" } });
    const caughtUp = deferred();
    res.subscribeJson((batch) => {
      if (batch.upToDate) caughtUp.resolve();
    });
    await caughtUp.promise;
    gate.state.token = "t2";
    await handle.append(1);
    await expect(res.closed).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  });

  it("is consulted for 5xx once retries are spent", async () => {
    const { url } = await jsonStream(server, [], "rc");
    let failures = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (failures < 3) {
        failures++;
        return new Response("down", { status: 500 });
      }
      return globalThis.fetch(input, init);
    };
    const seen: number[] = [];
    const res = await stream({
      url,
      fetch,
      live: false,
      backoffOptions: { ...quick, maxRetries: 0 },
      onError: (error) => {
        seen.push((error as FetchError).status);
        return {};
      },
    });
    expect(await res.json()).toEqual([]);
    expect(seen).toEqual([500, 500, 500]);
  });

  it("retries mid-session network failures on its own before asking", async () => {
    const { url, handle } = await jsonStream(server, [], "rc");
    let broken = false;
    let failed = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (broken && failed < 4) {
        failed++;
        throw new TypeError("connection refused");
      }
      return globalThis.fetch(input, init);
    };
    const asked: unknown[] = [];
    const res = await stream<number>({ url, fetch, live: "long-poll", backoffOptions: quick, onError: (e) => void asked.push(e) });
    const items: number[] = [];
    res.subscribeJson((batch) => {
      items.push(...batch.items);
    });
    await until(() => res.upToDate, "catch-up");
    broken = true;
    await handle.append(5);
    await handle.close();
    await res.closed;
    expect(items).toEqual([5]);
    expect(asked).toEqual([]);
  });
});
