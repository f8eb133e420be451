import {
  DurableStream as OfficialStream,
  IdempotentProducer as OfficialProducer,
  stream as officialStream,
} from "@durable-streams/client";
import { DurableStream as RillStream, IdempotentProducer as RillProducer, StreamClosedError } from "@rill/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eachTarget, startTarget, type Target, type TestServer } from "./targets.js";

// The official client's main paths, on Rill and on the reference server:
// `live: false` reads larger than any chunk size, every live mode, and the
// idempotent producer (including closing a stream someone else closed,
// where @rill/client must fail the same way).

eachTarget("official client against the %s server", (target: Target) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTarget(target, 500);
  });
  afterAll(() => server?.close());

  it("reads 100,000 JSON messages (12 MB) with live: false, all of them", async () => {
    const url = server.streamUrl("big-json");
    await OfficialStream.create({ url, contentType: "application/json" });
    const batch = 10_000;
    for (let start = 0; start < 100_000; start += batch) {
      // A POSTed array is that many messages (the official append would wrap it into one).
      const messages = Array.from({ length: batch }, (_, i) => ({ n: start + i, pad: "x".repeat(100) }));
      const posted = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(messages) });
      expect(posted.ok).toBe(true);
    }
    const res = await officialStream<{ n: number }>({ url, live: false });
    const items = await res.json();
    expect(items).toHaveLength(100_000);
    expect(items.every((item, i) => item.n === i)).toBe(true);
    expect(res.upToDate).toBe(true);
  });

  it("reads bytes at a stream offset it was given back, in one response", async () => {
    const url = server.streamUrl("big-bytes");
    const handle = await OfficialStream.create({ url, contentType: "application/octet-stream" });
    const part = new Uint8Array(3 * 1024 * 1024).fill(7);
    await handle.append(part);
    const middle = (await officialStream({ url, live: false })).offset;
    await handle.append(part.fill(9));
    await handle.append(part.fill(11));
    const rest = await (await officialStream({ url, live: false, offset: middle })).body();
    expect(rest.length).toBe(2 * part.length);
    expect([rest[0], rest[part.length], rest.at(-1)]).toEqual([9, 11, 11]);
  });

  describe.each(["long-poll", "sse", true] as const)("live %s", (live) => {
    it("follows JSON and binary appends until the stream closes", async () => {
      for (const contentType of ["application/json", "application/octet-stream"]) {
        const url = server.streamUrl("follow");
        const handle = await OfficialStream.create({ url, contentType });
        const json = contentType === "application/json";
        const body = (i: number) => (json ? JSON.stringify({ i }) : new Uint8Array([i, i, i]));
        await handle.append(body(0));
        const res = await officialStream({ url, live });
        const seen: unknown[] = [];
        let caughtUp!: () => void;
        const upToDate = new Promise<void>((resolve) => (caughtUp = resolve));
        if (json) {
          res.subscribeJson<{ i: number }>((b) => {
            seen.push(...b.items.map((item) => item.i));
            if (b.upToDate) caughtUp();
          });
        } else {
          res.subscribeBytes((chunk) => {
            seen.push(...chunk.data);
            if (chunk.upToDate) caughtUp();
          });
        }
        await upToDate;
        for (let i = 1; i <= 4; i++) await handle.append(body(i));
        await handle.close();
        await res.closed;
        expect(seen).toEqual(json ? [0, 1, 2, 3, 4] : [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
      }
    });
  });

  it("writes exactly once through the official IdempotentProducer, pipelined, then closes", async () => {
    const url = server.streamUrl("producer");
    const handle = await OfficialStream.create({ url, contentType: "application/json" });
    const producer = new OfficialProducer(handle, "writer-1", { lingerMs: 1, maxBatchBytes: 2048, maxInFlight: 4 });
    for (let i = 0; i < 2_000; i++) producer.append(JSON.stringify({ i }));
    await producer.flush();
    const { finalOffset } = await producer.close();
    const res = await officialStream<{ i: number }>({ url, live: false });
    const items = await res.json();
    expect(items.map((item) => item.i)).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    expect(res.offset).toBe(finalOffset);
    expect(res.streamClosed).toBe(true);
  });

  it("fails a producer's close of a stream someone else closed, with the official and with Rill's client", async () => {
    const url = server.streamUrl("closed-by-other");
    const handle = await OfficialStream.create({ url, contentType: "application/json" });
    await handle.append(JSON.stringify({ before: true }));
    await handle.close();

    const official = await new OfficialProducer(handle, "late").close().catch((error: unknown) => error);
    expect(official).toMatchObject({ status: 409 });
    const rill = await new RillProducer(new RillStream({ url }), "late").close().catch((error: unknown) => error);
    expect(rill).toBeInstanceOf(StreamClosedError);
    expect(rill).toMatchObject({ status: 409, code: "STREAM_CLOSED" });
    const lenient = new RillProducer(new RillStream({ url }), "late", { acceptAlreadyClosed: true });
    await expect(lenient.close()).resolves.toMatchObject({ finalOffset: (await handle.head()).offset });
  });
});
