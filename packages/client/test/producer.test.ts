import { describe, expect, it } from "vitest";
import {
  DurableStream,
  DurableStreamError,
  IdempotentProducer,
  StaleEpochError,
  StreamClosedError,
  stream,
} from "../src/index.js";
import { deferred, recording, until } from "./support/fetch-tools.js";
import { useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 300 });

const quick = { initialDelay: 1, maxDelay: 10, multiplier: 2 };

async function create(contentType = "application/json", fetch?: typeof globalThis.fetch) {
  const url = server.streamUrl("prod");
  return { url, handle: await DurableStream.create({ url, contentType, fetch }) };
}
const readJson = async (url: string) => (await stream({ url, live: false })).json();
const readText = async (url: string) => (await stream({ url, live: false })).text();
const posts = <T extends { method: string }>(requests: T[]) => requests.filter((r) => r.method === "POST");

describe("IdempotentProducer basics", () => {
  it("appends objects to a JSON stream in order and tracks its counters", async () => {
    const { url, handle } = await create();
    const producer = new IdempotentProducer(handle, "basics", { lingerMs: 1 });
    expect([producer.epoch, producer.nextSeq, producer.pendingCount, producer.inFlightCount]).toEqual([0, 0, 0, 0]);
    for (let i = 0; i < 100; i++) producer.append({ i });
    producer.append('{"text":true}');
    expect(producer.pendingCount).toBe(101);
    await producer.flush();
    expect(producer.pendingCount).toBe(0);
    expect(producer.inFlightCount).toBe(0);
    expect(producer.nextSeq).toBeGreaterThan(0);
    expect(producer.lastSuccessfulOffset).toBe(((await handle.head()) as { offset: string }).offset);
    expect(await readJson(url)).toEqual([...Array.from({ length: 100 }, (_, i) => ({ i })), { text: true }]);
  });

  it("concatenates strings and bytes on byte streams", async () => {
    const { url, handle } = await create("text/plain");
    const producer = new IdempotentProducer(handle, "bytes");
    producer.append("a");
    producer.append(new TextEncoder().encode("b"));
    producer.append("c");
    await producer.flush();
    expect(await readText(url)).toBe("abc");
    expect(() => producer.append({ not: "bytes" })).toThrow(DurableStreamError);
  });

  it("refuses invalid JSON text up front", async () => {
    const { handle } = await create();
    const producer = new IdempotentProducer(handle, "strict");
    expect(() => producer.append("{oops")).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });

  it("seals batches at maxBatchBytes", async () => {
    const { fetch, requests } = recording();
    const { url, handle } = await create("application/json", fetch);
    const producer = new IdempotentProducer(handle, "sizes", { maxBatchBytes: 64, lingerMs: 50 });
    for (let i = 0; i < 40; i++) producer.append({ value: i });
    await producer.flush();
    const sent = posts(requests).map((r) => r.body!);
    expect(sent.length).toBeGreaterThan(5);
    for (const body of sent) {
      expect(Array.isArray(JSON.parse(body))).toBe(true);
      expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(64);
    }
    expect(await readJson(url)).toEqual(Array.from({ length: 40 }, (_, i) => ({ value: i })));
  });

  it("waits lingerMs for more messages, and flush() sends at once", async () => {
    const { fetch, requests } = recording();
    const { handle } = await create("application/json", fetch);
    const before = requests.length;
    const producer = new IdempotentProducer(handle, "linger", { lingerMs: 60_000 });
    producer.append(1);
    producer.append(2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(requests.length).toBe(before);
    await producer.flush();
    expect(posts(requests.slice(before))).toHaveLength(1);
    expect(posts(requests.slice(before))[0]!.body).toBe("[1,2]");
  });

  it("keeps at most maxInFlight batches on the wire, and more than one", async () => {
    let inFlight = 0;
    let peak = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (init?.method !== "POST") return globalThis.fetch(input, init);
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await globalThis.fetch(input, init);
      } finally {
        inFlight--;
      }
    };
    const { url, handle } = await create("application/json", fetch);
    const producer = new IdempotentProducer(handle, "pipeline", { maxInFlight: 3, maxBatchBytes: 20, lingerMs: 0 });
    for (let i = 0; i < 200; i++) producer.append(i);
    await producer.flush();
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    expect(await readJson(url)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("sends producer headers merged over the handle's", async () => {
    const { fetch, requests } = recording();
    const url = server.streamUrl("ph");
    const handle = await DurableStream.create({ url, fetch, contentType: "text/plain", headers: { "x-a": "handle", "x-b": "handle" } });
    const producer = new IdempotentProducer(handle, "hdr", { headers: { "x-b": () => "producer" }, epoch: 3 });
    producer.append("x");
    await producer.flush();
    const post = posts(requests)[0]!;
    expect(post.headers.get("x-a")).toBe("handle");
    expect(post.headers.get("x-b")).toBe("producer");
    expect(post.headers.get("producer-id")).toBe("hdr");
    expect(post.headers.get("producer-epoch")).toBe("3");
    expect(post.headers.get("producer-seq")).toBe("0");
  });

  it("validates its options", async () => {
    const { handle } = await create();
    expect(() => new IdempotentProducer(handle, "")).toThrow(DurableStreamError);
    expect(() => new IdempotentProducer(handle, "x", { maxInFlight: 0 })).toThrow(DurableStreamError);
    expect(() => new IdempotentProducer(handle, "x", { epoch: -1 })).toThrow(DurableStreamError);
  });
});

describe("closing, detaching, restarting", () => {
  it("close() flushes, appends the final message and closes the stream, once", async () => {
    const { url, handle } = await create();
    const producer = new IdempotentProducer(handle, "closer");
    producer.append({ n: 1 });
    const result = await producer.close({ n: "last" });
    expect(await readJson(url)).toEqual([{ n: 1 }, { n: "last" }]);
    const head = await handle.head();
    expect(head).toMatchObject({ exists: true, streamClosed: true, offset: result.finalOffset });
    expect(await producer.close({ n: "last" })).toEqual(result);
    expect(() => producer.append(2)).toThrow(expect.objectContaining({ code: "ALREADY_CLOSED" }));
  });

  it("retried close requests are recognised by the server", async () => {
    let dropped = false;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      if (!dropped && new Headers(init?.headers).get("stream-closed") === "true") {
        dropped = true;
        throw new TypeError("response lost");
      }
      return response;
    };
    const { url, handle } = await create("application/json", fetch);
    const producer = new IdempotentProducer(handle, "retry-close", { fetch, backoffOptions: quick });
    producer.append(1);
    const result = await producer.close({ end: true });
    expect(dropped).toBe(true);
    expect(await readJson(url)).toEqual([1, { end: true }]);
    expect(result.finalOffset).toBe(((await handle.head()) as { offset: string }).offset);
  });

  it("close() on a stream someone else closed fails with STREAM_CLOSED, as with the official client", async () => {
    const { handle } = await create();
    await handle.close();
    const finalOffset = ((await handle.head()) as { offset: string }).offset;
    const error = await new IdempotentProducer(handle, "late").close().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamClosedError);
    expect(error).toMatchObject({ code: "STREAM_CLOSED", status: 409, finalOffset });
    await expect(new IdempotentProducer(handle, "late2").close("1")).rejects.toBeInstanceOf(StreamClosedError);
  });

  it("close() on a stream someone else closed succeeds with acceptAlreadyClosed, unless a final message would be lost", async () => {
    const { handle } = await create();
    await handle.close();
    const finalOffset = ((await handle.head()) as { offset: string }).offset;
    const lenient = { acceptAlreadyClosed: true };
    await expect(new IdempotentProducer(handle, "late", lenient).close()).resolves.toEqual({ finalOffset });
    await expect(new IdempotentProducer(handle, "late2", lenient).close("1")).rejects.toBeInstanceOf(StreamClosedError);
  });

  it("detach() flushes and leaves the stream open", async () => {
    const { url, handle } = await create();
    const producer = new IdempotentProducer(handle, "detacher");
    producer.append(1);
    await producer.detach();
    expect(() => producer.append(2)).toThrow(expect.objectContaining({ code: "ALREADY_CLOSED" }));
    await handle.append(3);
    expect(await readJson(url)).toEqual([1, 3]);
  });

  it("restart() moves to a new epoch from seq 0", async () => {
    const { url, handle } = await create();
    const producer = new IdempotentProducer(handle, "restarter");
    producer.append(1);
    await producer.flush();
    await producer.restart();
    expect([producer.epoch, producer.nextSeq]).toEqual([1, 0]);
    producer.append(2);
    await producer.flush();
    expect(await readJson(url)).toEqual([1, 2]);
  });
});

describe("epochs", () => {
  it("a fenced producer reports StaleEpochError, refuses appends, and recovers with restart()", async () => {
    const { url, handle } = await create();
    const errors: Error[] = [];
    const old = new IdempotentProducer(handle, "shared-id", { onError: (e) => errors.push(e) });
    old.append("1");
    await old.flush();
    const usurper = new IdempotentProducer(handle, "shared-id", { epoch: 5 });
    usurper.append("2");
    await usurper.flush();
    old.append("3");
    await expect(old.flush()).rejects.toBeInstanceOf(StaleEpochError);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "STALE_EPOCH", currentEpoch: 5 });
    expect(() => old.append("4")).toThrow(StaleEpochError);
    await old.restart();
    expect(old.epoch).toBe(6);
    old.append("5");
    await old.flush();
    expect(await readJson(url)).toEqual([1, 2, 5]);
  });

  it("autoClaim takes over with a higher epoch and resends in order", async () => {
    const { url, handle } = await create();
    const first = new IdempotentProducer(handle, "claimed", { epoch: 2 });
    first.append(0);
    await first.flush();
    const second = new IdempotentProducer(handle, "claimed", { autoClaim: true, maxBatchBytes: 8, lingerMs: 0 });
    for (let i = 1; i <= 30; i++) second.append(i);
    await second.flush();
    expect(second.epoch).toBe(3);
    expect(await readJson(url)).toEqual(Array.from({ length: 31 }, (_, i) => i));
  });
});

describe("failures", () => {
  it("retries 5xx and lost responses without duplicating", async () => {
    let calls = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      calls++;
      if (calls === 1) return new Response("try later", { status: 503, headers: { "retry-after": "0" } });
      const response = await globalThis.fetch(input, init);
      if (calls === 2) throw new TypeError("socket closed after the server answered");
      return response;
    };
    const { url, handle } = await create();
    const producer = new IdempotentProducer(handle, "flaky", { fetch, backoffOptions: quick });
    producer.append({ once: true });
    await producer.flush();
    expect(calls).toBe(3);
    expect(await readJson(url)).toEqual([{ once: true }]);
  });

  it("gives up after maxRetries: onError, a rejected flush, nothing kept", async () => {
    const { url, handle } = await create();
    let attempts = 0;
    const down: typeof globalThis.fetch = async () => {
      attempts++;
      throw new TypeError("connect ECONNREFUSED");
    };
    const errors: Error[] = [];
    const producer = new IdempotentProducer(handle, "unlucky", {
      fetch: down,
      backoffOptions: { ...quick, maxRetries: 3 },
      onError: (e) => errors.push(e),
      lingerMs: 0,
      maxInFlight: 1,
    });
    producer.append(1);
    const flushed = producer.flush();
    producer.append(2);
    await expect(flushed).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(attempts).toBe(4);
    expect(errors).toHaveLength(1);
    expect(producer.inFlightCount).toBe(0);
    expect(producer.pendingCount).toBe(0);
    expect(() => producer.append(3)).toThrow(expect.objectContaining({ code: "NETWORK_ERROR" }));
    await producer.restart();
    expect(await readJson(url)).toEqual([]);
  });

  it("fails at once on errors that retrying cannot fix", async () => {
    const url = server.streamUrl("never-created");
    const handle = new DurableStream({ url, contentType: "application/json" });
    const errors: Error[] = [];
    const producer = new IdempotentProducer(handle, "lost", { onError: (e) => errors.push(e) });
    producer.append(1);
    await expect(producer.flush()).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(errors[0]).toMatchObject({ status: 404 });
  });

  it("refuses to write into a closed stream", async () => {
    const { handle } = await create();
    await handle.close();
    const producer = new IdempotentProducer(handle, "too-late");
    producer.append(1);
    await expect(producer.flush()).rejects.toBeInstanceOf(StreamClosedError);
  });

  it("aborting the signal stops the producer", async () => {
    const { handle } = await create();
    const controller = new AbortController();
    const gate = deferred();
    const fetch: typeof globalThis.fetch = async (input, init) => {
      await gate.promise;
      return globalThis.fetch(input, init);
    };
    const producer = new IdempotentProducer(handle, "aborted", { signal: controller.signal, fetch });
    producer.append(1);
    const flushed = producer.flush();
    await until(() => producer.inFlightCount === 1, "a batch in flight");
    controller.abort();
    await expect(flushed).rejects.toMatchObject({ code: "ABORTED" });
    gate.resolve();
  });

  it("learns the content type of a handle that does not know it", async () => {
    const url = server.streamUrl("lazy-producer");
    await DurableStream.create({ url, contentType: "application/json" });
    const producer = new IdempotentProducer(new DurableStream({ url }), "lazy");
    producer.append({ a: 1 });
    producer.append({ b: 2 });
    await producer.flush();
    expect(await readJson(url)).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
