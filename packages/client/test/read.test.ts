/** Catch-up reads, the promise helpers and ReadableStream consumers, and how requests are built. */
import { describe, expect, it } from "vitest";
import { DurableStream, DurableStreamError, stream, type LiveMode } from "../src/index.js";
import { deferred, recording, until } from "./support/fetch-tools.js";
import { jsonStream, useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 400 });

describe("catch-up reads", () => {
  it("json() returns every message and leaves the position at the tail", async () => {
    const { url, handle } = await jsonStream(server, [{ n: 1 }, { n: 2 }, [3, "three"]]);
    const res = await stream<{ n: number }>({ url, live: false });
    expect(res.contentType).toBe("application/json");
    expect(res.startOffset).toBe("-1");
    expect(await res.json()).toEqual([{ n: 1 }, { n: 2 }, [3, "three"]]);
    const head = await handle.head();
    expect(head.exists && head.offset).toBe(res.offset);
    expect(res.upToDate).toBe(true);
    expect(res.streamClosed).toBe(false);
    await expect(res.closed).resolves.toBeUndefined();
  });

  it("text() and body() return the stream's bytes", async () => {
    const url = server.streamUrl("text");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.append("hello\n");
    await handle.append("wörld");
    expect(await (await stream({ url, live: false })).text()).toBe("hello\nwörld");

    const binUrl = server.streamUrl("bin");
    const bin = await DurableStream.create({ url: binUrl, contentType: "application/octet-stream" });
    await bin.append(new Uint8Array([0, 1, 2, 255]));
    expect(Array.from(await (await stream({ url: binUrl, live: false })).body())).toEqual([0, 1, 2, 255]);
  });

  it("an empty stream reads as nothing, up to date", async () => {
    const { url } = await jsonStream(server);
    const res = await stream({ url, live: false });
    expect(await res.json()).toEqual([]);
    expect(res.upToDate).toBe(true);
  });

  it("resumes from a saved offset, and offset now skips what exists", async () => {
    const { url, handle } = await jsonStream(server, [1, 2]);
    const first = await stream({ url, live: false });
    expect(await first.json()).toEqual([1, 2]);
    await handle.append(3);
    const resumed = await stream({ url, live: false, offset: first.offset });
    expect(await resumed.json()).toEqual([3]);
    const now = await stream({ url, live: false, offset: "now" });
    expect(now.startOffset).toBe("now");
    expect(await now.json()).toEqual([]);
    expect(now.offset).toBe(resumed.offset);
  });

  it("promise helpers stop at up-to-date in every live mode", async () => {
    const { url } = await jsonStream(server, [1]);
    for (const live of ["auto", true, "long-poll", "sse"] as LiveMode[]) {
      expect(await (await stream({ url, live })).json()).toEqual([1]);
    }
  });

  it("refuses JSON methods on non-JSON streams unless json is forced", async () => {
    const url = server.streamUrl("plain");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.append('[1,{"a":2}]');
    const res = await stream({ url, live: false });
    await expect(res.json()).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(() => res.jsonStream()).toThrow(DurableStreamError);
    expect(await (await stream({ url, live: false, json: true })).json()).toEqual([1, { a: 2 }]);
  });

  it("a batch that is not JSON errors the JSON reader and rejects closed", async () => {
    const url = server.streamUrl("badjson");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.append("{not json");
    const res = await stream({ url, live: false, json: true });
    const reader = res.jsonStream().getReader();
    await expect(reader.read()).rejects.toMatchObject({ code: "PARSE_ERROR" });
    await expect(res.closed).rejects.toMatchObject({ code: "PARSE_ERROR" });
  });

  it("allows one consumption method per response", async () => {
    const { url } = await jsonStream(server, [1]);
    const res = await stream({ url, live: false });
    await res.json();
    expect(() => res.subscribeJson(() => undefined)).toThrow(expect.objectContaining({ code: "ALREADY_CONSUMED" }));
    await expect(res.text()).rejects.toMatchObject({ code: "ALREADY_CONSUMED" });
  });

  it("rejects a missing stream from stream() itself", async () => {
    await expect(stream({ url: server.streamUrl("missing"), live: false })).rejects.toMatchObject({ code: "NOT_FOUND", status: 404 });
  });

  it("exposes the first response's status and headers", async () => {
    const { url } = await jsonStream(server, [1]);
    const res = await stream({ url, live: false });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.headers.get("stream-next-offset")).toBeTruthy();
    expect(res.isLoading).toBe(false);
    res.cancel();
  });
});

describe("ReadableStream consumers", () => {
  it("bodyStream, jsonStream and textStream iterate with for await", async () => {
    const { url } = await jsonStream(server, [{ a: 1 }, { a: 2 }]);
    const items: unknown[] = [];
    for await (const item of (await stream({ url, live: false })).jsonStream()) items.push(item);
    expect(items).toEqual([{ a: 1 }, { a: 2 }]);

    const textUrl = server.streamUrl("ts");
    const handle = await DurableStream.create({ url: textUrl, contentType: "text/plain" });
    await handle.append("abc");
    let text = "";
    for await (const chunk of (await stream({ url: textUrl, live: false })).textStream()) text += chunk;
    expect(text).toBe("abc");
    const reader = (await stream({ url: textUrl, live: false })).bodyStream().getReader();
    const chunks: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(...r.value);
    expect(new TextDecoder().decode(new Uint8Array(chunks))).toBe("abc");
  });

  it("breaking out of a live iteration cancels the session", async () => {
    const { url } = await jsonStream(server, [1, 2, 3]);
    const res = await stream({ url, live: "long-poll" });
    const seen: unknown[] = [];
    for await (const item of res.jsonStream()) {
      seen.push(item);
      if (seen.length === 2) break;
    }
    await res.closed;
    expect(seen).toEqual([1, 2]);
  });
});

describe("requests", () => {
  it("evaluates header and param functions per request and keeps protocol params", async () => {
    const { url, handle } = await jsonStream(server, [1]);
    const { fetch, requests } = recording();
    let calls = 0;
    const res = await stream({
      url,
      fetch,
      live: "long-poll",
      headers: { "x-static": "s", "x-call": () => String(++calls) },
      params: { tenant: async () => "t1", offset: "999", skipped: undefined },
    });
    const done = deferred();
    res.subscribeJson((batch) => {
      if (batch.streamClosed) done.resolve();
    });
    await handle.append(2);
    await handle.close();
    await done.promise;
    expect(requests.length).toBeGreaterThanOrEqual(2);
    requests.forEach((request, index) => {
      expect(request.headers.get("x-static")).toBe("s");
      expect(request.headers.get("x-call")).toBe(String(index + 1));
      expect(request.url.searchParams.get("tenant")).toBe("t1");
      expect(request.url.searchParams.get("offset")).not.toBe("999");
      expect(request.url.searchParams.has("skipped")).toBe(false);
    });
  });

  it("catches up without live params and echoes the cursor on live requests", async () => {
    const { url, handle } = await jsonStream(server, [1]);
    const { fetch, requests } = recording();
    const res = await stream({ url, fetch, live: "long-poll" });
    let count = 0;
    res.subscribeJson(() => {
      count++;
    });
    await until(() => requests.length >= 2, "a long-poll request");
    await handle.append(2);
    await until(() => requests.length >= 3, "a second long-poll request");
    await handle.close();
    await res.closed;
    expect(count).toBeGreaterThan(0);
    expect(requests[0]!.url.searchParams.has("live")).toBe(false);
    expect(requests[0]!.url.searchParams.get("offset")).toBe("-1");
    const live = requests.slice(1);
    for (const request of live) expect(request.url.searchParams.get("live")).toBe("long-poll");
    // Every live request after the first carries the cursor the previous answer gave.
    expect(live.slice(1).every((request) => request.url.searchParams.get("cursor"))).toBe(true);
  });
});
