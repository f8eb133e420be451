/** Live reads: long-poll, SSE and auto, closure in each mode, backpressure and cancellation. */
import { describe, expect, it } from "vitest";
import { DurableStream, stream, type JsonBatch } from "../src/index.js";
import { deferred, until } from "./support/fetch-tools.js";
import { jsonStream, useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 400 });

describe.each(["long-poll", "sse", "auto"] as const)("live %s", (live) => {
  it("delivers appends as they happen and ends at closure", async () => {
    const { url, handle } = await jsonStream(server, [0]);
    const res = await stream<number>({ url, live });
    const batches: Array<JsonBatch<number>> = [];
    const caughtUp = deferred();
    res.subscribeJson(async (batch) => {
      batches.push(batch);
      if (batch.upToDate) caughtUp.resolve();
    });
    await caughtUp.promise;
    for (let i = 1; i <= 5; i++) await handle.append(i);
    await handle.close({ body: 6 });
    await res.closed;
    expect(batches.flatMap((b) => b.items)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const last = batches.at(-1)!;
    expect(last.streamClosed).toBe(true);
    expect(last.upToDate).toBe(true);
    expect(res.streamClosed).toBe(true);
    expect(res.offset).toBe(last.offset);
    const head = await handle.head();
    expect(head.exists && head.offset).toBe(last.offset);
    // Offsets only move forward.
    const offsets = batches.map((b) => b.offset);
    expect([...offsets].sort()).toEqual(offsets);
  });

  it("starting from now only sees new data", async () => {
    const { url, handle } = await jsonStream(server, [{ v: "old" }]);
    const res = await stream<{ v: string }>({ url, live, offset: "now" });
    const items: Array<{ v: string }> = [];
    const done = deferred();
    res.subscribeJson((batch) => {
      items.push(...batch.items);
      if (batch.streamClosed) done.resolve();
    });
    await handle.append({ v: "new" });
    await handle.append('"json text"');
    await handle.close();
    await done.promise;
    expect(items).toEqual([{ v: "new" }, "json text"]);
  });

  it("reading a stream that is already closed ends at once", async () => {
    const { url, handle } = await jsonStream(server, [1]);
    await handle.close();
    const res = await stream({ url, live });
    const batches: JsonBatch[] = [];
    res.subscribeJson((batch) => {
      batches.push(batch);
    });
    await res.closed;
    expect(batches.flatMap((b) => b.items)).toEqual([1]);
    expect(batches.at(-1)!.streamClosed).toBe(true);
  });

  it("jsonStream ends when the stream closes", async () => {
    const { url, handle } = await jsonStream(server, [1]);
    const res = await stream<number>({ url, live });
    const iterate = (async () => {
      const items: number[] = [];
      for await (const item of res.jsonStream()) items.push(item);
      return items;
    })();
    await handle.append(2);
    await handle.close({ body: 3 });
    expect(await iterate).toEqual([1, 2, 3]);
  });
});

describe("live text and binary", () => {
  it("SSE carries multi-line text intact", async () => {
    const url = server.streamUrl("sse-text");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    const res = await stream({ url, live: "sse", offset: "now" });
    let text = "";
    res.subscribeText((chunk) => {
      text += chunk.text;
    });
    // (Lines starting with a space are avoided: servers frame them as
    // "data: x" with no added space, so every SSE parser drops one.)
    await handle.append("line one\nline two\n\nünïcode: yes\n");
    await handle.append("tail");
    await handle.close();
    await res.closed;
    expect(text).toBe("line one\nline two\n\nünïcode: yes\ntail");
  });

  it("SSE decodes base64 for binary streams", async () => {
    const url = server.streamUrl("sse-bin");
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream" });
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const res = await stream({ url, live: "sse", offset: "now" });
    const received: number[] = [];
    res.subscribeBytes((chunk) => {
      received.push(...chunk.data);
    });
    await handle.append(all.subarray(0, 100));
    await handle.append(all.subarray(100));
    await handle.close();
    await res.closed;
    expect(received).toEqual(Array.from(all));
  });

  it("SSE decodes base64 even when the encoding header is hidden (as cross-origin browsers may)", async () => {
    const url = server.streamUrl("sse-bin-hidden");
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream" });
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      const headers = new Headers(response.headers);
      headers.delete("stream-sse-data-encoding");
      return new Response(response.body, { status: response.status, headers });
    };
    const res = await stream({ url, fetch, live: "sse", offset: "now" });
    const received: number[] = [];
    res.subscribeBytes((chunk) => {
      received.push(...chunk.data);
    });
    await handle.append(new Uint8Array([0, 1, 254, 255]));
    await handle.close();
    await res.closed;
    expect(received).toEqual([0, 1, 254, 255]);
  });

  it("long-poll delivers binary bytes", async () => {
    const url = server.streamUrl("lp-bin");
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream" });
    const res = await stream({ url, live: "long-poll" });
    const received: number[] = [];
    res.subscribeBytes((chunk) => {
      received.push(...chunk.data);
    });
    await handle.append(new Uint8Array([9, 8, 7]));
    await handle.close();
    await res.closed;
    expect(received).toEqual([9, 8, 7]);
  });
});

describe("backpressure and cancellation", () => {
  it("does not fetch while a subscriber is busy", async () => {
    const { url, handle } = await jsonStream(server, [0]);
    let busy = false;
    let fetchedWhileBusy = 0;
    const inner = globalThis.fetch;
    const fetch: typeof globalThis.fetch = (input, init) => {
      if (busy) fetchedWhileBusy++;
      return inner(input, init);
    };
    const res = await stream<number>({ url, fetch, live: "long-poll" });
    const gates = [deferred(), deferred(), deferred()];
    const entered: number[] = [];
    res.subscribeJson(async (batch) => {
      busy = true;
      entered.push(...batch.items);
      await gates[Math.min(entered.length - 1, 2)]!.promise;
      busy = false;
    });
    await until(() => entered.length === 1, "first batch");
    await handle.append(1);
    await handle.append(2);
    // Give a wrongly eager implementation every chance to fetch.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(entered).toEqual([0]);
    gates[0]!.resolve();
    await until(() => entered.length >= 3, "the appended items");
    gates[1]!.resolve();
    gates[2]!.resolve();
    res.cancel();
    await res.closed;
    expect(fetchedWhileBusy).toBe(0);
  });

  it("cancel() aborts a pending long-poll and resolves closed", async () => {
    const { url } = await jsonStream(server, [1]);
    const signals: AbortSignal[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      if (init?.signal) signals.push(init.signal);
      return globalThis.fetch(input, init);
    };
    const res = await stream({ url, fetch, live: "long-poll" });
    const items: unknown[] = [];
    res.subscribeJson((batch) => {
      items.push(...batch.items);
    });
    await until(() => signals.length >= 2, "the long-poll");
    res.cancel("done here");
    await res.closed;
    expect(signals.at(-1)!.aborted).toBe(true);
    expect(items).toEqual([1]);
  });

  it("an aborted user signal ends an SSE read", async () => {
    const { url } = await jsonStream(server, [1]);
    const controller = new AbortController();
    const res = await stream({ url, live: "sse", signal: controller.signal });
    const seen = deferred();
    res.subscribeJson(() => seen.resolve());
    await seen.promise;
    controller.abort();
    await res.closed;
    await expect(stream({ url, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("aborting rejects a promise helper that has not caught up", async () => {
    // A fake server whose first answer is not up to date and whose second never comes.
    const fetch: typeof globalThis.fetch = (_input, init) => {
      if (new URL(String(_input)).searchParams.get("offset") === "-1") {
        return Promise.resolve(
          new Response("[1]", { headers: { "content-type": "application/json", "stream-next-offset": "0_1" } }),
        );
      }
      return new Promise((_resolve, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason)));
    };
    const controller = new AbortController();
    const res = await stream({ url: "http://fake.invalid/v1/stream/x", fetch, signal: controller.signal });
    const pending = res.json();
    setTimeout(() => controller.abort("enough"), 10);
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    await res.closed;
  });

  it("unsubscribe stops delivery", async () => {
    const { url, handle } = await jsonStream(server, [1]);
    const res = await stream<number>({ url, live: "long-poll" });
    const items: number[] = [];
    const first = deferred();
    const unsubscribe = res.subscribeJson((batch) => {
      items.push(...batch.items);
      first.resolve();
    });
    await first.promise;
    unsubscribe();
    await res.closed;
    await handle.append(2);
    expect(items).toEqual([1]);
  });

  it("a throwing subscriber ends the session and rejects closed", async () => {
    const { url } = await jsonStream(server, [1]);
    const res = await stream({ url, live: "long-poll" });
    res.subscribeJson(() => {
      throw new Error("consumer broke");
    });
    await expect(res.closed).rejects.toThrow("consumer broke");
  });
});
