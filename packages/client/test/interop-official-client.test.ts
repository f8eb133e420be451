/**
 * Interop the other way: the official client (@durable-streams/client 0.2.7)
 * against Rill's server. Reads in every live mode, appends, closure and the
 * idempotent producer. Skipped until Rill's server is built.
 */
import {
  DurableStream as OfficialStream,
  IdempotentProducer as OfficialProducer,
  stream as officialStream,
} from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rillServerBuilt, startRill, type TestServer } from "./support/servers.js";

let server: TestServer;
beforeAll(async () => {
  if (rillServerBuilt) server = (await startRill({ longPollTimeoutMs: 300 }))!;
});
afterAll(async () => {
  await server?.close();
});

describe.skipIf(!rillServerBuilt)("official client ↔ Rill server", () => {
  it("creates, appends and reads back JSON, text and bytes", async () => {
    const url = server.streamUrl("o-json");
    const handle = await OfficialStream.create({ url, contentType: "application/json" });
    await handle.append(JSON.stringify({ a: 1 }));
    await Promise.all([handle.append(JSON.stringify({ b: 2 })), handle.append(JSON.stringify([3]))]);
    expect(await (await officialStream({ url, live: false })).json()).toEqual([{ a: 1 }, { b: 2 }, [3]]);

    const textUrl = server.streamUrl("o-text");
    const text = await OfficialStream.create({ url: textUrl, contentType: "text/plain" });
    await text.append("héllo ");
    await text.append("world");
    expect(await (await officialStream({ url: textUrl, live: false })).text()).toBe("héllo world");

    const head = await text.head();
    expect(head).toMatchObject({ exists: true, contentType: "text/plain", streamClosed: false });
  });

  it.each(["long-poll", "sse", true] as const)("live %s follows appends to closure", async (live) => {
    const url = server.streamUrl("o-live");
    const handle = await OfficialStream.create({ url, contentType: "application/json" });
    await handle.append("0");
    const res = await officialStream<number>({ url, live });
    const items: number[] = [];
    let closedSeen = false;
    let caughtUp!: () => void;
    const upToDate = new Promise<void>((resolve) => (caughtUp = resolve));
    res.subscribeJson((batch) => {
      items.push(...batch.items);
      if (batch.upToDate) caughtUp();
      if (batch.streamClosed) closedSeen = true;
    });
    await upToDate;
    for (let i = 1; i <= 5; i++) await handle.append(String(i));
    await handle.close({ body: "6" });
    await res.closed;
    expect(items).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(closedSeen).toBe(true);
  });

  it("reads binary, catch-up and live over SSE (base64)", async () => {
    const url = server.streamUrl("o-bin");
    const handle = await OfficialStream.create({ url, contentType: "application/octet-stream" });
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await handle.append(all.subarray(0, 100));
    expect(Array.from(await (await officialStream({ url, live: false })).body())).toEqual(Array.from(all.subarray(0, 100)));
    const res = await officialStream({ url, live: "sse", offset: "now" });
    const bytes: number[] = [];
    res.subscribeBytes((chunk) => {
      bytes.push(...chunk.data);
    });
    await handle.append(all.subarray(100));
    await handle.close();
    await res.closed;
    expect(bytes).toEqual(Array.from(all.subarray(100)));
  });

  it("refuses appends after close", async () => {
    const url = server.streamUrl("o-closed");
    const handle = await OfficialStream.create({ url, contentType: "text/plain" });
    await handle.append("x");
    const { finalOffset } = await handle.close();
    // (0.2.7 surfaces this as a FetchError from its retry layer, not StreamClosedError.)
    await expect(handle.append("y")).rejects.toMatchObject({ status: 409 });
    expect((await handle.head()) as object).toMatchObject({ streamClosed: true, offset: finalOffset });
  });

  it("the idempotent producer writes exactly once and closes", async () => {
    const url = server.streamUrl("o-producer");
    const handle = await OfficialStream.create({ url, contentType: "application/json" });
    const errors: Error[] = [];
    const producer = new OfficialProducer(handle, "official", { lingerMs: 1, maxBatchBytes: 128, onError: (e) => errors.push(e) });
    for (let i = 0; i < 500; i++) producer.append(JSON.stringify(i));
    await producer.flush();
    await producer.close(JSON.stringify("end"));
    expect(errors).toEqual([]);
    expect(await (await officialStream({ url, live: false })).json()).toEqual([...Array.from({ length: 500 }, (_, i) => i), "end"]);

  });
});
