/**
 * Interop: the Rill client against the official reference server
 * (@durable-streams/server), with its default gzip compression on. Reads in
 * every live mode, closure, appends, errors and the idempotent producer.
 */
import { describe, expect, it } from "vitest";
import {
  DurableStream,
  IdempotentProducer,
  SequenceGapError,
  StaleEpochError,
  StreamClosedError,
  stream,
  type JsonBatch,
} from "../src/index.js";
import { deferred, seeded } from "./support/fetch-tools.js";
import { startOfficialServer, useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 300, compression: true }, startOfficialServer);

describe("Rill client ↔ official server: reads", () => {
  it("catch-up in JSON, text and bytes", async () => {
    const url = server.streamUrl("i-json");
    const handle = await DurableStream.create({ url, contentType: "application/json", body: [{ a: 1 }] });
    await handle.append({ b: 2 });
    expect(await (await stream({ url, live: false })).json()).toEqual([{ a: 1 }, { b: 2 }]);
    expect(await (await stream({ url, live: false, offset: "now" })).json()).toEqual([]);

    const textUrl = server.streamUrl("i-text");
    const text = await DurableStream.create({ url: textUrl, contentType: "text/plain" });
    await text.append("héllo ");
    await text.append("world");
    expect(await (await stream({ url: textUrl, live: false })).text()).toBe("héllo world");

    const binUrl = server.streamUrl("i-bin");
    const bin = await DurableStream.create({ url: binUrl, contentType: "application/octet-stream" });
    await bin.append(new Uint8Array([0, 200, 255]));
    expect(Array.from(await (await stream({ url: binUrl, live: false })).body())).toEqual([0, 200, 255]);
  });

  it.each(["long-poll", "sse", "auto"] as const)("live %s follows appends to closure", async (live) => {
    const url = server.streamUrl("i-live");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    await handle.append(0);
    const res = await stream<number>({ url, live });
    const batches: Array<JsonBatch<number>> = [];
    const caughtUp = deferred();
    res.subscribeJson((batch) => {
      batches.push(batch);
      if (batch.upToDate) caughtUp.resolve();
    });
    await caughtUp.promise;
    for (let i = 1; i <= 5; i++) await handle.append(i);
    const { finalOffset } = await handle.close({ body: 6 });
    await res.closed;
    expect(batches.flatMap((b) => b.items)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(batches.at(-1)).toMatchObject({ streamClosed: true, offset: finalOffset });
    expect(res.streamClosed).toBe(true);
  });

  it("SSE carries binary (base64) and text", async () => {
    const binUrl = server.streamUrl("i-sse-bin");
    const bin = await DurableStream.create({ url: binUrl, contentType: "application/octet-stream" });
    const res = await stream({ url: binUrl, live: "sse", offset: "now" });
    const bytes: number[] = [];
    res.subscribeBytes((chunk) => {
      bytes.push(...chunk.data);
    });
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await bin.append(all);
    await bin.close();
    await res.closed;
    expect(bytes).toEqual(Array.from(all));

    const textUrl = server.streamUrl("i-sse-text");
    const text = await DurableStream.create({ url: textUrl, contentType: "text/markdown" });
    const textRes = await stream({ url: textUrl, live: "sse" });
    let received = "";
    textRes.subscribeText((chunk) => {
      received += chunk.text;
    });
    await text.append("# title\n\nbody\n");
    await text.close();
    await textRes.closed;
    expect(received).toBe("# title\n\nbody\n");
  });

  it("reads a closed stream to EOF in every mode", async () => {
    const url = server.streamUrl("i-closed");
    await DurableStream.create({ url, contentType: "application/json", body: [1, 2], closed: true });
    for (const live of [false, "long-poll", "sse"] as const) {
      const res = await stream<number>({ url, live });
      const items: number[] = [];
      for await (const item of res.jsonStream()) items.push(item);
      expect(items).toEqual([1, 2]);
      expect(res.streamClosed).toBe(true);
    }
  });
});

describe("Rill client ↔ official server: writes", () => {
  it("create, head, connect and delete", async () => {
    const url = server.streamUrl("i-meta");
    await DurableStream.create({ url, contentType: "text/plain", ttlSeconds: 600 });
    const handle = await DurableStream.connect({ url });
    expect(handle.contentType).toBe("text/plain");
    expect(await handle.head()).toMatchObject({ exists: true, streamClosed: false });
    await expect(DurableStream.create({ url, contentType: "application/json" })).rejects.toMatchObject({ code: "CONFLICT_EXISTS" });
    await handle.delete();
    expect(await handle.head()).toEqual({ exists: false });
    await expect(stream({ url })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("batched appends, Stream-Seq and precise conflict codes", async () => {
    const url = server.streamUrl("i-append");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    await Promise.all(Array.from({ length: 25 }, (_, i) => handle.append({ i })));
    expect(await (await stream({ url, live: false })).json()).toEqual(Array.from({ length: 25 }, (_, i) => ({ i })));

    const seqUrl = server.streamUrl("i-seq");
    const seq = await DurableStream.create({ url: seqUrl, contentType: "text/plain" });
    await seq.append("a", { seq: "002" });
    await expect(seq.append("b", { seq: "001" })).rejects.toMatchObject({ code: "CONFLICT_SEQ" });
    await expect(seq.append("c", { contentType: "application/xml" })).rejects.toMatchObject({ code: "CONTENT_TYPE_MISMATCH" });
    const { finalOffset } = await seq.close();
    await expect(seq.append("d")).rejects.toSatisfy((e) => e instanceof StreamClosedError && e.finalOffset === finalOffset);
    expect((await seq.close()).finalOffset).toBe(finalOffset);
  });

  it("the idempotent producer delivers exactly once through lost answers", async () => {
    const url = server.streamUrl("i-producer");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    const random = seeded(42);
    let lost = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      if (init?.method === "POST" && random() < 0.15) {
        lost++;
        await response.body?.cancel();
        throw new TypeError("socket hang up");
      }
      return response;
    };
    const producer = new IdempotentProducer(handle, "interop", {
      fetch,
      maxBatchBytes: 100,
      lingerMs: 1,
      backoffOptions: { initialDelay: 1, maxDelay: 10, multiplier: 2, maxRetries: 30 },
    });
    for (let i = 0; i < 1000; i++) producer.append(i);
    const result = await producer.close({ done: true });
    expect(lost).toBeGreaterThan(0);
    const items = await (await stream({ url, live: false })).json();
    expect(items).toEqual([...Array.from({ length: 1000 }, (_, i) => i), { done: true }]);
    expect((await handle.head()) as object).toMatchObject({ streamClosed: true, offset: result.finalOffset });
  });

  it("maps the server's producer answers: stale epoch, sequence gap, auto-claim", async () => {
    const url = server.streamUrl("i-epoch");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    const fenced: Error[] = [];
    const old = new IdempotentProducer(handle, "p", { onError: (e) => fenced.push(e) });
    old.append(1);
    await old.flush();
    const next = new IdempotentProducer(handle, "p", { epoch: 4 });
    next.append(2);
    await next.flush();
    old.append(3);
    await expect(old.flush()).rejects.toBeInstanceOf(StaleEpochError);
    expect(fenced[0]).toMatchObject({ currentEpoch: 4 });

    const claimer = new IdempotentProducer(handle, "p", { autoClaim: true });
    claimer.append(4);
    await claimer.flush();
    expect(claimer.epoch).toBe(5);
    expect(await (await stream({ url, live: false })).json()).toEqual([1, 2, 4]);

    const gap = await handle.append(5, { producerId: "q", producerEpoch: 0, producerSeq: 3 }).catch((e: unknown) => e);
    expect(gap).toBeInstanceOf(SequenceGapError);
    expect(gap).toMatchObject({ expectedSeq: 0, receivedSeq: 3 });
  });
});
