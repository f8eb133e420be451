import { describe, expect, it } from "vitest";
import { DurableStream, DurableStreamError, StreamClosedError, stream } from "../src/index.js";
import { recording } from "./support/fetch-tools.js";
import { useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 300 });

const readJson = async (url: string) => (await stream({ url, live: false })).json();
const readText = async (url: string) => (await stream({ url, live: false })).text();

describe("create, head, connect, delete", () => {
  it("create is idempotent for the same configuration and a conflict otherwise", async () => {
    const url = server.streamUrl("create");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    expect(handle.contentType).toBe("application/json");
    expect(handle.url).toBe(url);
    await expect(DurableStream.create({ url, contentType: "application/json" })).resolves.toBeInstanceOf(DurableStream);
    await expect(DurableStream.create({ url, contentType: "text/plain" })).rejects.toMatchObject({ code: "CONFLICT_EXISTS", status: 409 });
  });

  it("create takes TTL, initial body and closed", async () => {
    const url = server.streamUrl("ttl");
    const handle = await DurableStream.create({ url, contentType: "application/json", ttlSeconds: 3600, body: [{ a: 1 }, { a: 2 }], closed: true });
    const head = await handle.head();
    expect(head).toMatchObject({ exists: true, contentType: "application/json", streamClosed: true, ttlSeconds: 3600 });
    expect(await readJson(url)).toEqual([{ a: 1 }, { a: 2 }]);

    const expiring = server.streamUrl("expires");
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    await new DurableStream({ url: expiring }).create({ contentType: "text/plain", expiresAt, body: "hi" });
    const meta = await DurableStream.head({ url: expiring });
    expect(meta.exists && Date.parse(meta.expiresAt!)).toBe(Date.parse(expiresAt));
    expect(await readText(expiring)).toBe("hi");
  });

  it("head reports offset and closure, and a missing stream as not existing", async () => {
    const url = server.streamUrl("head");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    const empty = await handle.head();
    await handle.append("abc");
    const after = await handle.head();
    expect(empty.exists && after.exists && empty.offset !== after.offset).toBe(true);
    expect(after).toMatchObject({ exists: true, streamClosed: false });
    expect(await DurableStream.head({ url: server.streamUrl("nothing") })).toEqual({ exists: false });
  });

  it("connect learns the content type and refuses a missing stream", async () => {
    const url = server.streamUrl("connect");
    await DurableStream.create({ url, contentType: "text/csv" });
    const handle = await DurableStream.connect({ url });
    expect(handle.contentType).toBe("text/csv");
    await expect(DurableStream.connect({ url: server.streamUrl("absent") })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("delete removes the stream; deleting again is NOT_FOUND", async () => {
    const url = server.streamUrl("delete");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.delete();
    expect((await handle.head()).exists).toBe(false);
    await expect(DurableStream.delete({ url })).rejects.toMatchObject({ code: "NOT_FOUND", status: 404 });
  });

  it("sends handle headers and params on every request", async () => {
    const { fetch, requests } = recording();
    const url = server.streamUrl("hdr");
    const handle = await DurableStream.create({
      url,
      fetch,
      contentType: "text/plain",
      headers: { "x-tenant": () => "acme" },
      params: { region: "eu" },
    });
    await handle.append("x");
    await handle.head();
    await (await handle.stream({ live: false })).text();
    expect(requests.length).toBe(4);
    for (const request of requests) {
      expect(request.headers.get("x-tenant")).toBe("acme");
      expect(request.url.searchParams.get("region")).toBe("eu");
    }
  });

  it("reports an aborted operation as ABORTED", async () => {
    const url = server.streamUrl("abort");
    // Never answers; gives up like fetch does when its signal fires (or already has).
    const hang: typeof globalThis.fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        const fail = () => reject(new DOMException("aborted", "AbortError"));
        if (init!.signal!.aborted) fail();
        else init!.signal!.addEventListener("abort", fail);
      });
    const controller = new AbortController();
    const pending = new DurableStream({ url, fetch: hang, contentType: "text/plain" }).append("x", { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("requires a url", () => {
    expect(() => new DurableStream({} as never)).toThrow(DurableStreamError);
  });
});

describe("append", () => {
  it("serializes objects for JSON streams and takes strings as JSON text", async () => {
    const url = server.streamUrl("json");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    await handle.append({ a: 1 });
    await handle.append('{"b":2}');
    await handle.append(new TextEncoder().encode("[3]"));
    await handle.append(4);
    await handle.append(null);
    expect(await readJson(url)).toEqual([{ a: 1 }, { b: 2 }, [3], 4, null]);
    await expect(handle.append("not json")).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("appends strings and bytes to byte streams", async () => {
    const url = server.streamUrl("bytes");
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream" });
    await handle.append("AB");
    await handle.append(new Uint8Array([0, 255]));
    await handle.append(new Uint8Array([7, 8, 9]).buffer);
    await handle.append(Promise.resolve("Z"));
    const body = await (await stream({ url, live: false })).body();
    expect(Array.from(body)).toEqual([65, 66, 0, 255, 7, 8, 9, 90]);
    await expect(handle.append({ no: "objects" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("batches appends made while a POST is in flight, keeping order", async () => {
    const { fetch, requests } = recording();
    const url = server.streamUrl("batch");
    const handle = await DurableStream.create({ url, fetch, contentType: "application/json" });
    await Promise.all(Array.from({ length: 20 }, (_, i) => handle.append({ i })));
    const posts = requests.filter((r) => r.method === "POST");
    expect(posts.length).toBeLessThan(20);
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(await readJson(url)).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));

    const bytes = server.streamUrl("batch-bytes");
    const byteHandle = await DurableStream.create({ url: bytes, fetch, contentType: "text/plain" });
    const before = requests.length;
    await Promise.all(["a", "b", "c", "d"].map((s) => byteHandle.append(s)));
    expect(requests.length - before).toBeLessThan(4);
    expect(await readText(bytes)).toBe("abcd");
  });

  it("aborting one append does not abort the ones batched around it", async () => {
    const url = server.streamUrl("batch-abort");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    const controller = new AbortController();
    const results = Promise.allSettled([handle.append(1), handle.append(2, { signal: controller.signal }), handle.append(3)]);
    controller.abort();
    const [first, second, third] = await results;
    expect(first.status).toBe("fulfilled");
    expect(second).toMatchObject({ status: "rejected", reason: { code: "ABORTED" } });
    expect(third.status).toBe("fulfilled");
    expect(await readJson(url)).toEqual([1, 3]);
  });

  it("sends each append alone with batching off", async () => {
    const { fetch, requests } = recording();
    const url = server.streamUrl("nobatch");
    const handle = await DurableStream.create({ url, fetch, contentType: "application/json", batching: false });
    await Promise.all(Array.from({ length: 5 }, (_, i) => handle.append(i)));
    expect(requests.filter((r) => r.method === "POST")).toHaveLength(5);
    expect((await readJson(url)).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("sets Stream-Seq and reports a regression as CONFLICT_SEQ", async () => {
    const url = server.streamUrl("seq");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.append("1", { seq: "writer-001" });
    await handle.append("2", { seq: "writer-002" });
    const error = await handle.append("3", { seq: "writer-001" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFLICT_SEQ", status: 409 });
    expect(error).not.toBeInstanceOf(StreamClosedError);
    expect(await readText(url)).toBe("12");
  });

  it("reports a content-type mismatch precisely", async () => {
    const url = server.streamUrl("ctype");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await expect(handle.append("x", { contentType: "application/xml" })).rejects.toMatchObject({ code: "CONTENT_TYPE_MISMATCH", status: 409 });
  });

  it("learns the content type with a HEAD when the handle does not know it", async () => {
    const url = server.streamUrl("lazy");
    await DurableStream.create({ url, contentType: "application/json" });
    const { fetch, requests } = recording();
    const handle = new DurableStream({ url, fetch });
    await handle.append({ lazy: true });
    expect(requests.map((r) => r.method)).toEqual(["HEAD", "POST"]);
    expect(await readJson(url)).toEqual([{ lazy: true }]);
    await expect(new DurableStream({ url: server.streamUrl("ghost") }).append("x")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("refuses appends to a closed stream with StreamClosedError", async () => {
    const url = server.streamUrl("closed");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.append("x");
    const { finalOffset } = await handle.close();
    const error = await handle.append("y").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamClosedError);
    expect(error).toMatchObject({ code: "STREAM_CLOSED", status: 409, finalOffset });
  });
});

describe("appendStream and writable", () => {
  it("streams an async iterable and a ReadableStream into the stream", async () => {
    const url = server.streamUrl("pipe");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    async function* lines() {
      for (let i = 0; i < 3; i++) yield `line ${i}\n`;
    }
    await handle.appendStream(lines());
    await handle.appendStream(
      new ReadableStream<string | Uint8Array>({
        start(controller) {
          controller.enqueue("chunk-1 ");
          controller.enqueue(new TextEncoder().encode("chunk-2"));
          controller.close();
        },
      }),
    );
    expect(await readText(url)).toBe("line 0\nline 1\nline 2\nchunk-1 chunk-2");
  });

  it("writable() appends what is piped in and closes the stream", async () => {
    const url = server.streamUrl("writable");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    const source = new ReadableStream<string>({
      start(controller) {
        for (let i = 0; i < 50; i++) controller.enqueue(`${i},`);
        controller.close();
      },
    });
    await source.pipeTo(handle.writable({ lingerMs: 1 }));
    expect(await readText(url)).toBe(Array.from({ length: 50 }, (_, i) => `${i},`).join(""));
    expect((await handle.head()).exists && (await handle.head() as { streamClosed: boolean }).streamClosed).toBe(true);
  });
});

describe("close", () => {
  it("returns the final offset and is idempotent without a body", async () => {
    const url = server.streamUrl("close");
    const handle = await DurableStream.create({ url, contentType: "text/plain" });
    await handle.append("abc");
    const first = await handle.close();
    const head = await handle.head();
    expect(head.exists && head.offset).toBe(first.finalOffset);
    expect(head.exists && head.streamClosed).toBe(true);
    expect((await handle.close()).finalOffset).toBe(first.finalOffset);
  });

  it("appends a final message atomically, and refuses one once closed", async () => {
    const url = server.streamUrl("close-body");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    await handle.append({ n: 1 });
    await handle.close({ body: { done: true } });
    expect(await readJson(url)).toEqual([{ n: 1 }, { done: true }]);
    await expect(handle.close({ body: { again: true } })).rejects.toBeInstanceOf(StreamClosedError);
  });

  it("waits for queued appends before closing", async () => {
    const url = server.streamUrl("close-order");
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    const appends = Array.from({ length: 10 }, (_, i) => handle.append(i));
    await handle.close();
    await Promise.all(appends);
    expect(await readJson(url)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});

describe("handle.stream()", () => {
  it("reads with the handle's onError and merged headers", async () => {
    const url = server.streamUrl("h-read");
    let token = "old";
    const fetch: typeof globalThis.fetch = (input, init) => {
      const auth = new Headers(init?.headers).get("authorization");
      return auth === "Bearer new" ? globalThis.fetch(input, init) : Promise.resolve(new Response("", { status: 401 }));
    };
    await DurableStream.create({ url, contentType: "application/json", body: [1, 2] });
    const handle = new DurableStream({
      url,
      fetch,
      headers: { authorization: () => `Bearer ${token}` },
      onError: () => {
        token = "new";
        return {};
      },
    });
    const res = await handle.stream<number>({ live: false, headers: { "x-extra": "1" } });
    expect(await res.json()).toEqual([1, 2]);
  });
});
