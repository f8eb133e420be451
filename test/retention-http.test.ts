import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { startOnStore, STORE_KINDS } from "./support/stores.js";
import { sseTextUntil } from "./support/sse-text.js";

// Retention over HTTP on every store: the policy headers, HEAD, the listing,
// 410 with Rill-Earliest-Offset on catch-up, long-poll and SSE, offset=-1.
const offset = (position: number) => `0000000000000000_${String(position).padStart(16, "0")}`;

describe.each(STORE_KINDS)("retention over HTTP (%s)", (kind) => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A stream of four 10-byte appends with a 25-byte limit: the first two go. */
  async function trimmedStream(name: string) {
    server = await startOnStore(kind, { maintenanceIntervalMs: 0, longPollTimeoutMs: 500 });
    const url = `${server.streamsUrl}/${name}-${process.pid}-${Date.now()}`;
    const created = await fetch(url, {
      method: "PUT",
      headers: { "content-type": "text/plain", "rill-retention-bytes": "25" },
    });
    expect(created.status).toBe(201);
    for (const part of ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"]) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: part });
      expect(res.status).toBe(204);
    }
    await server.engine.maintainer.runAll();
    return url;
  }

  it("reports the policy, the earliest offset and the bytes on HEAD and in the listing", async () => {
    const url = await trimmedStream("head");
    const head = await fetch(url, { method: "HEAD" });
    expect(head.headers.get("rill-retention-bytes")).toBe("25");
    expect(head.headers.get("rill-retention-age")).toBeNull();
    expect(head.headers.get("rill-earliest-offset")).toBe(offset(20));
    expect(head.headers.get("rill-bytes-appended")).toBe("40");
    expect(head.headers.get("rill-bytes-stored")).toBe("20");
    expect(head.headers.get("access-control-expose-headers")).toContain("rill-earliest-offset");
    const name = new URL(url).pathname.split("/").pop()!;
    const list = await (await fetch(`${server!.streamsUrl}/__ds/streams?prefix=${name}`)).json();
    expect(list.streams[0]).toMatchObject({ earliestOffset: offset(20), appendedBytes: 40, storedBytes: 20, bytes: 40 });
  });

  it("answers 410 below the earliest offset on catch-up, long-poll and SSE; -1 starts at the earliest", async () => {
    const url = await trimmedStream("reads");
    for (const query of [`offset=${offset(5)}`, `offset=${offset(5)}&live=long-poll`, `offset=${offset(0)}&live=sse`]) {
      const res = await fetch(`${url}?${query}`);
      expect(res.status, query).toBe(410);
      expect(res.headers.get("rill-earliest-offset")).toBe(offset(20));
      const body = await res.json();
      expect(body.error).toMatchObject({ code: "OFFSET_RETAINED", earliest_offset: offset(20) });
      expect(body.error.message).toContain("earliest retained offset");
    }
    const fromStart = await fetch(`${url}?offset=-1`);
    expect(fromStart.status).toBe(200);
    expect(await fromStart.text()).toBe("ccccccccccdddddddddd");
    // Retained data keeps its offsets.
    const middle = await fetch(`${url}?offset=${offset(30)}`);
    expect(await middle.text()).toBe("dddddddddd");
    expect(middle.headers.get("stream-next-offset")).toBe(offset(40));
    // SSE from -1 starts at the earliest retained data.
    const seen = await sseTextUntil(`${url}?offset=-1&live=sse`, offset(40));
    expect(seen).toContain("data:ccccccccccdddddddddd");
  });

  it("applies server-wide defaults by the most specific pattern, to streams without their own", async () => {
    server = await startOnStore(kind, { maintenanceIntervalMs: 0, retention: ["**=1GiB", "logs/**=7d,15B", "logs/keep/*=30d"] });
    const base = `${server.streamsUrl}/logs`;
    const id = `${process.pid}-${Date.now()}`;
    const heads: Record<string, Headers> = {};
    for (const name of [`app/${id}`, `keep/${id}`]) {
      await fetch(`${base}/${name}`, { method: "PUT", headers: { "content-type": "text/plain" } });
      for (const part of ["0123456789", "abcdefghij"]) {
        await fetch(`${base}/${name}`, { method: "POST", headers: { "content-type": "text/plain" }, body: part });
      }
    }
    await server.engine.maintainer.runAll();
    for (const name of [`app/${id}`, `keep/${id}`]) heads[name] = (await fetch(`${base}/${name}`, { method: "HEAD" })).headers;
    expect(heads[`app/${id}`]!.get("rill-retention-age")).toBe(String(7 * 86_400));
    expect(heads[`app/${id}`]!.get("rill-earliest-offset")).toBe(offset(10));
    expect(heads[`keep/${id}`]!.get("rill-retention-age")).toBe(String(30 * 86_400));
    expect(heads[`keep/${id}`]!.get("rill-retention-bytes")).toBeNull();
    expect(heads[`keep/${id}`]!.get("rill-earliest-offset")).toBe(offset(0));
  });
});

describe("the background pass", () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("applies retention without being asked, page after page of streams", async () => {
    server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 20 });
    // More streams than one pass looks at (500), so the pass must go on to later pages.
    const names = Array.from({ length: 520 }, (_, i) => `bg/${String(i).padStart(3, "0")}`);
    // Made through the engine: 1,500 HTTP requests would only slow the test down.
    const { engine } = server;
    const retention = { maxAgeSeconds: null, maxBytes: 5 };
    const plain = { contentType: "text/plain", ttlSeconds: null, expiresAt: null, closed: false, fork: null, compaction: null };
    for (const path of names) {
      await engine.create({ ...plain, path, retention, data: new Uint8Array(0) });
      for (const part of ["aaaaa", "bbbbb"]) {
        await engine.append({ path, contentType: "text/plain", data: new TextEncoder().encode(part), streamSeq: null, producer: null, close: false });
      }
    }
    const last = `${server.streamsUrl}/${names[names.length - 1]}`;
    const deadline = Date.now() + 10_000;
    let earliest: string | null = null;
    while (Date.now() < deadline) {
      earliest = (await fetch(last, { method: "HEAD" })).headers.get("rill-earliest-offset");
      if (earliest === offset(5)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(earliest).toBe(offset(5));
    expect(await (await fetch(`${last}?offset=-1`)).text()).toBe("bbbbb");
  }, 30_000);
});

describe("retention and compaction headers", () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("refuses malformed values with a 400 naming the header, and a different policy with 409", async () => {
    server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 20 });
    const cases: [Record<string, string>, string][] = [
      [{ "content-type": "text/plain", "rill-retention-age": "0" }, "Rill-Retention-Age"],
      [{ "content-type": "text/plain", "rill-retention-bytes": "10GiB" }, "Rill-Retention-Bytes"],
      [{ "content-type": "application/json", "rill-compaction": "latest" }, "Rill-Compaction"],
      [{ "content-type": "text/plain", "rill-compaction": "key" }, "JSON stream"],
      [{ "content-type": "application/json", "rill-compaction": "key", "rill-compaction-key": "type" }, "JSON Pointer"],
      [{ "content-type": "application/json", "rill-compaction-tombstone-age": "60" }, "Rill-Compaction: key"],
    ];
    for (const [headers, named] of cases) {
      const res = await fetch(`${server.streamsUrl}/bad`, { method: "PUT", headers });
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect((await res.json()).error.message).toContain(named);
    }
    const url = `${server.streamsUrl}/policy`;
    const headers = { "content-type": "application/json", "rill-retention-age": "60", "rill-compaction": "key" };
    expect((await fetch(url, { method: "PUT", headers })).status).toBe(201);
    expect((await fetch(url, { method: "PUT", headers })).status).toBe(200);
    const other = await fetch(url, { method: "PUT", headers: { ...headers, "rill-retention-age": "61" } });
    expect(other.status).toBe(409);
    expect((await other.json()).error.message).toContain("retention");
    const head = await fetch(url, { method: "HEAD" });
    expect(head.headers.get("rill-compaction")).toBe("key");
    expect(head.headers.get("rill-compaction-key")).toBe("/type,/key");
    expect(head.headers.get("rill-compaction-tombstone-age")).toBe("86400");
  });

  it("lets a browser send the policy headers (CORS preflight)", async () => {
    server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 20 });
    const res = await fetch(`${server.streamsUrl}/x`, { method: "OPTIONS" });
    const allowed = res.headers.get("access-control-allow-headers") ?? "";
    for (const name of ["rill-retention-age", "rill-retention-bytes", "rill-compaction", "rill-compaction-key"]) {
      expect(allowed).toContain(name);
    }
  });
});
