import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { createSelfSignedCertificate, startServer, type RunningServer, type ServerOptions } from "@rill/server";
import { collect, h2connect, h2request, responseOf } from "./h2-client.js";
import type { ClientHttp2Session } from "node:http2";

// HTTP/2 behaviour a client sees: one stream per SSE reader without
// connection headers, the stream limit, GOAWAY on shutdown, and h2c.
const tls = createSelfSignedCertificate();
let server: RunningServer | undefined;
const sessions: ClientHttp2Session[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  await server?.close();
  server = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: ServerOptions = {}) {
  server = await startServer({ port: 0, memory: true, tls, ...options });
  const session = await h2connect(server.url, options.h2c ? undefined : tls.cert);
  sessions.push(session);
  return { server, session };
}

const put = (session: ClientHttp2Session, path: string, contentType = "text/plain") =>
  h2request(session, { ":method": "PUT", ":path": path, "content-type": contentType });
const post = (session: ClientHttp2Session, path: string, body: string | Buffer, contentType = "text/plain") =>
  h2request(session, { ":method": "POST", ":path": path, "content-type": contentType }, body);

describe("SSE over HTTP/2", () => {
  it("is one stream of the connection, sends no connection-specific headers, and ends with the server", async () => {
    const { server: running, session } = await start();
    expect((await put(session, "/v1/stream/live")).status).toBe(201);
    const readers = [0, 1, 2].map(() => session.request({ ":path": "/v1/stream/live?offset=-1&live=sse" }));
    const headers = await Promise.all(readers.map(responseOf));
    for (const h of headers) {
      expect(h[":status"]).toBe(200);
      expect(h["content-type"]).toBe("text/event-stream");
      for (const name of ["connection", "keep-alive", "transfer-encoding"]) expect(h[name]).toBeUndefined();
    }
    const texts = readers.map((reader) => {
      let text = "";
      reader.setEncoding("utf8").on("data", (part: string) => (text += part));
      return () => text;
    });
    expect((await post(session, "/v1/stream/live", "hello over h2")).status).toBe(204);
    await expect.poll(() => texts.every((text) => text().includes("hello over h2"))).toBe(true);
    const ended = readers.map((reader) => new Promise((resolve) => reader.once("end", resolve)));
    await running.close();
    server = undefined;
    await Promise.all(ended);
  });

  it("a reader whose stream window stays closed is paused, then resumes from storage with every byte once", async () => {
    const { session } = await start({ limits: { maxPendingOutputBytes: 256 * 1024 } });
    await put(session, "/v1/stream/slow");
    const reader = session.request({ ":path": "/v1/stream/slow?offset=-1&live=sse" });
    await responseOf(reader);
    reader.pause(); // the client stops reading: its stream window closes
    const chunk = (i: number) => `${String(i).padStart(6, "0")}:${"x".repeat(64 * 1024 - 8)}\n`;
    for (let i = 0; i < 64; i++) expect((await post(session, "/v1/stream/slow", chunk(i))).status).toBe(204);
    // 4 MiB were appended while the reader held its window shut.
    let text = "";
    reader.setEncoding("utf8").on("data", (part: string) => (text += part));
    reader.resume();
    const expected = Array.from({ length: 64 }, (_, i) => chunk(i)).join("");
    await expect.poll(() => dataOf(text).length, { timeout: 10_000 }).toBe(expected.length);
    expect(dataOf(text)).toBe(expected);
  });
});

/** The payloads of an SSE text's data events, concatenated. */
function dataOf(sse: string): string {
  let out = "";
  for (const event of sse.split("\n\n")) {
    if (!event.startsWith("event: data\n")) continue;
    out += event
      .split("\n")
      .slice(1)
      .map((line) => line.slice("data:".length))
      .join("\n");
  }
  return out;
}

describe("catch-up over HTTP/2", () => {
  it("streams a large compressed catch-up on one HTTP/2 stream, decoding to exactly the stored bytes", async () => {
    const { session } = await start();
    await put(session, "/v1/stream/big");
    const text = Array.from({ length: 100_000 }, (_, i) => `event ${i} ${"payload ".repeat(12)}\n`).join("");
    expect((await post(session, "/v1/stream/big", text)).status).toBe(204);
    const gz = await h2request(session, { ":path": "/v1/stream/big?offset=-1", "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString()).toBe(text);
    const small = await h2request(session, { ":path": "/v1/stream/big?offset=-1", "accept-encoding": "br" });
    expect(brotliDecompressSync(small.body).toString()).toBe(text);
  }, 60_000);
});

describe("HTTP/2 limits", () => {
  it("announces and enforces the concurrent stream limit of a connection", async () => {
    const { session } = await start({ maxConcurrentStreams: 3 });
    expect(session.remoteSettings.maxConcurrentStreams).toBe(3);
    await put(session, "/v1/stream/limited");
    const readers = [0, 1, 2].map(() => session.request({ ":path": "/v1/stream/limited?offset=-1&live=sse" }));
    await Promise.all(readers.map(responseOf));
    let answered = false;
    const fourth = h2request(session, { ":path": "/v1/stream/limited?offset=-1" }).then((res) => ((answered = true), res));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(answered).toBe(false);
    readers[0]!.close();
    expect((await fourth).status).toBe(200);
  });
});

describe("graceful shutdown over HTTP/2", () => {
  it("sends GOAWAY and lets an append whose body is still arriving finish", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rill-h2-goaway-"));
    dirs.push(dataDir);
    const { server: running, session } = await start({ memory: false, dataDir });
    await put(session, "/v1/stream/inflight");
    const append = session.request({ ":method": "POST", ":path": "/v1/stream/inflight", "content-type": "text/plain" });
    const response = collect(append);
    append.write("first half, ");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const goaway = new Promise((resolve) => session.once("goaway", resolve));
    const closing = running.close();
    server = undefined;
    await goaway;
    append.end("second half");
    expect((await response).status).toBe(204);
    await closing;

    server = await startServer({ port: 0, dataDir, tls });
    const again = await h2connect(server.url, tls.cert);
    sessions.push(again);
    const read = await h2request(again, { ":path": "/v1/stream/inflight?offset=-1" });
    expect(read.body.toString()).toBe("first half, second half");
  });
});

describe("h2c (cleartext HTTP/2, prior knowledge)", () => {
  it("serves catch-up, appends and SSE", async () => {
    const { server: running, session } = await start({ tls: undefined, h2c: true });
    expect(running.url).toMatch(/^http:\/\//);
    expect((await put(session, "/v1/stream/clear", "application/json")).status).toBe(201);
    expect((await post(session, "/v1/stream/clear", '{"n":1}', "application/json")).status).toBe(204);
    const read = await h2request(session, { ":path": "/v1/stream/clear?offset=-1" });
    expect(read.body.toString()).toBe('[{"n":1}]');
    const reader = session.request({ ":path": "/v1/stream/clear?offset=-1&live=sse" });
    let text = "";
    reader.setEncoding("utf8").on("data", (part: string) => (text += part));
    await post(session, "/v1/stream/clear", '{"n":2}', "application/json");
    await expect.poll(() => text.includes('[{"n":2}]')).toBe(true);
  });
});
