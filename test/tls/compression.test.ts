import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { CompressedChunkCache, negotiateEncoding } from "../../packages/server/src/http/compression.js";

// Compressed catch-up as a user's HTTP client sees it: raw bytes on the wire
// (node:http does not decode), decoded here and compared with the identity body.
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (part: Buffer) => parts.push(part));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    })
      .on("error", reject)
      .end();
  });
}

async function streamWith(contentType: string, body: string | Uint8Array, options: Parameters<typeof startServer>[0] = {}) {
  server = await startServer({ port: 0, memory: true, ...options });
  const url = `${server.streamsUrl}/c-${Math.random().toString(36).slice(2)}`;
  expect((await fetch(url, { method: "PUT", headers: { "content-type": contentType } })).status).toBe(201);
  expect((await fetch(url, { method: "POST", headers: { "content-type": contentType }, body })).status).toBe(204);
  return `${url}?offset=-1`;
}

const messages = JSON.stringify(Array.from({ length: 2_000 }, (_, i) => ({ id: i, kind: "reading", value: i * 0.5, note: "élan ✓" })));

describe("compressed catch-up", () => {
  it("decodes to exactly the uncompressed bytes with gzip and with br", async () => {
    const url = await streamWith("application/json", messages);
    const plain = await get(url);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("accept-encoding");
    const gzip = await get(url, { "accept-encoding": "gzip" });
    const br = await get(url, { "accept-encoding": "br" });
    expect(gzip.headers["content-encoding"]).toBe("gzip");
    expect(br.headers["content-encoding"]).toBe("br");
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(br.body.length).toBeLessThan(plain.body.length / 5);
    expect(Number(br.headers["content-length"])).toBe(br.body.length);
    expect(br.headers["stream-next-offset"]).toBe(plain.headers["stream-next-offset"]);
    expect(new Set([plain.headers.etag, gzip.headers.etag, br.headers.etag]).size).toBe(3);
  });

  it("compresses a range too large to cache as it streams from storage, to exactly the same bytes", async () => {
    // 12 MB of text: above the size compressed whole and cached, so it is compressed piece by piece.
    const lines = Array.from({ length: 120_000 }, (_, i) => `line ${i} ${"lorem ipsum ".repeat(7)}\n`).join("");
    const url = await streamWith("text/plain", lines);
    const plain = await get(url);
    expect(plain.body.length).toBeGreaterThan(8 * 1024 * 1024);
    for (const encoding of ["gzip", "br"] as const) {
      const res = await get(url, { "accept-encoding": encoding });
      expect(res.headers["content-encoding"]).toBe(encoding);
      expect(res.headers["content-length"]).toBeUndefined(); // streamed: length unknown in advance
      const decoded = encoding === "gzip" ? gunzipSync(res.body) : brotliDecompressSync(res.body);
      expect(decoded.equals(plain.body)).toBe(true);
      expect(res.body.length).toBeLessThan(plain.body.length / 4);
    }
  }, 60_000);

  it("answers 304 to the ETag of the encoding asked for, and 200 when the encoding differs", async () => {
    const url = await streamWith("application/json", messages);
    const br = await get(url, { "accept-encoding": "gzip, br" });
    const etag = br.headers.etag as string;
    const again = await get(url, { "accept-encoding": "gzip, br", "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.headers.vary).toBe("accept-encoding");
    expect(again.headers.etag).toBe(etag);
    const otherEncoding = await get(url, { "accept-encoding": "gzip", "if-none-match": etag });
    expect(otherEncoding.status).toBe(200);
    expect(otherEncoding.headers["content-encoding"]).toBe("gzip");
    const identity = await get(url, { "if-none-match": etag });
    expect(identity.status).toBe(200);
    expect(identity.headers["content-encoding"]).toBeUndefined();
  });

  it("picks the encoding by q-value", async () => {
    const url = await streamWith("text/plain", "log line\n".repeat(500));
    expect((await get(url, { "accept-encoding": "br;q=0.5, gzip" })).headers["content-encoding"]).toBe("gzip");
    expect((await get(url, { "accept-encoding": "br;q=0, gzip;q=0" })).headers["content-encoding"]).toBeUndefined();
    expect((await get(url, { "accept-encoding": "*" })).headers["content-encoding"]).toBe("br");
    expect((await get(url, { "accept-encoding": "identity" })).headers["content-encoding"]).toBeUndefined();
  });

  it("leaves binary streams untouched even when the client accepts compression", async () => {
    const bytes = new Uint8Array(20_000).fill(7); // very compressible, still binary
    const url = await streamWith("application/octet-stream", bytes);
    const res = await get(url, { "accept-encoding": "br, gzip" });
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.headers.vary).toBeUndefined();
    expect(res.body.equals(Buffer.from(bytes))).toBe(true);
  });

  it("is off with compression: false (rill serve --no-compression)", async () => {
    const url = await streamWith("application/json", messages, { compression: false });
    const res = await get(url, { "accept-encoding": "br, gzip" });
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(res.body.toString("utf8"))).toHaveLength(2_000);
  });
});

describe("negotiateEncoding", () => {
  it("prefers br on a tie, honours q=0 and x-gzip, and ignores unknown codings", () => {
    expect(negotiateEncoding("gzip, deflate, br")).toBe("br");
    expect(negotiateEncoding("x-gzip")).toBe("gzip");
    expect(negotiateEncoding("deflate, zstd")).toBeNull();
    expect(negotiateEncoding("*;q=0.2, br;q=0")).toBe("gzip");
    expect(negotiateEncoding("")).toBeNull();
    expect(negotiateEncoding(undefined)).toBeNull();
  });
});

describe("CompressedChunkCache", () => {
  it("compresses a chunk once for every reader, and evicts the least recently used past its bound", async () => {
    const cache = new CompressedChunkCache(1_000);
    let built = 0;
    const body = () => {
      built++;
      return new Uint8Array(Buffer.from("x".repeat(10_000)));
    };
    const [a, b] = await Promise.all([cache.compress("s|0|10", "gzip", body), cache.compress("s|0|10", "gzip", body)]);
    expect(a).toBe(b);
    await cache.compress("s|0|10", "gzip", body);
    expect(built).toBe(1);
    await cache.compress("s|0|10", "br", body);
    expect(built).toBe(2);
    // Random bytes do not compress: each entry is about 200 bytes, so six of them evict the oldest.
    for (let i = 0; i < 6; i++) await cache.compress(`r|${i}`, "gzip", () => randomBytes(180));
    expect(cache.size).toBeGreaterThan(800);
    expect(cache.size).toBeLessThanOrEqual(1_000);
    let rebuilt = 0;
    await cache.compress("s|0|10", "gzip", () => {
      rebuilt++;
      return body();
    });
    expect(rebuilt).toBe(1);
  });
});
