// Scenario 3 load: `readers` concurrent readers, each on its own keep-alive connection,
// replaying `stream` from offset -1 until Stream-Up-To-Date (following Stream-Next-Offset).
//   args: { url, stream, readers, acceptEncoding }
// With acceptEncoding (e.g. "br" or "gzip") the responses may come compressed and are
// read with undici and zlib: wireBytes counts what crossed the connection, bytes what
// the reader decoded. Without it each reader is a raw socket that counts (raw-http.mjs).
import { createBrotliDecompress, createGunzip } from "node:zlib";
import { Client } from "undici";
import { streamUrl } from "../lib/common.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { RawHttpConnection } from "./raw-http.mjs";
import { args, run } from "./worker.mjs";

/** The decoded body as it streams in (the response itself when it is not encoded). */
function decoded(res) {
  const encoding = res.headers["content-encoding"];
  if (encoding === "br") return res.body.pipe(createBrotliDecompress());
  if (encoding === "gzip") return res.body.pipe(createGunzip());
  return res.body;
}

/** Plain (uncompressed) replay over a raw socket: the generator only counts the bytes. */
async function replayRaw(url, name, ttfb) {
  const { hostname, port } = new URL(url);
  const connection = new RawHttpConnection(hostname, Number(port));
  const path = new URL(streamUrl(url, name)).pathname;
  const started = performance.now();
  let offset = "-1";
  let bytes = 0;
  let requests = 0;
  try {
    for (;;) {
      const res = await connection.get(`${path}?offset=${encodeURIComponent(offset)}`);
      requests++;
      if (res.status !== 200) throw new Error(`GET ${name} at ${offset}: HTTP ${res.status}`);
      if (requests === 1 && res.firstByteAt !== null) ttfb.record(res.firstByteAt - started);
      bytes += res.bytes;
      const next = res.headers["stream-next-offset"];
      if (res.headers["stream-up-to-date"] === "true" || next === offset) break;
      offset = next;
    }
  } finally {
    connection.close();
  }
  return { bytes, wireBytes: bytes, requests, seconds: (performance.now() - started) / 1000 };
}

async function replay(url, name, ttfb, acceptEncoding) {
  if (!acceptEncoding) return replayRaw(url, name, ttfb);
  const client = new Client(url);
  const path = new URL(streamUrl(url, name)).pathname;
  const started = performance.now();
  let offset = "-1";
  let bytes = 0;
  let wireBytes = 0;
  let requests = 0;
  let first = true;
  try {
    for (;;) {
      const headers = acceptEncoding ? { "accept-encoding": acceptEncoding } : {};
      const res = await client.request({ path: `${path}?offset=${encodeURIComponent(offset)}`, method: "GET", headers });
      requests++;
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`GET ${name} at ${offset}: HTTP ${res.statusCode}`);
      }
      let got = 0;
      res.body.on("data", (chunk) => (wireBytes += chunk.length));
      for await (const chunk of decoded(res)) {
        if (first) {
          ttfb.record(performance.now() - started);
          first = false;
        }
        got += chunk.length;
      }
      bytes += got;
      const next = res.headers["stream-next-offset"];
      if (res.headers["stream-up-to-date"] === "true" || next === offset) break;
      offset = next;
    }
  } finally {
    await client.close();
  }
  return { bytes, wireBytes, requests, seconds: (performance.now() - started) / 1000 };
}

run(async () => {
  const { url, stream, readers, acceptEncoding } = args;
  const ttfb = new Histogram();
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: readers }, () => replay(url, stream, ttfb, acceptEncoding)));
  const wall = (performance.now() - started) / 1000;
  const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
  const perReader = results.map((r) => r.bytes / r.seconds / 1e6).sort((a, b) => a - b);
  return {
    readers,
    bytesPerReader: results[0].bytes,
    requestsPerReader: results[0].requests,
    totalBytes: bytes,
    wireBytesPerReader: results[0].wireBytes,
    seconds: wall,
    aggregateMBps: bytes / wall / 1e6,
    readerMBpsMedian: perReader[perReader.length >> 1],
    ttfb: ttfb.summary(),
  };
});
