// Scenario 3 load: `readers` concurrent readers, each on its own keep-alive connection,
// replaying `stream` from offset -1 until Stream-Up-To-Date (following Stream-Next-Offset).
//   args: { url, stream, readers }
import { Client } from "undici";
import { streamUrl } from "../lib/common.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { args, run } from "./worker.mjs";

async function replay(url, name, ttfb) {
  const client = new Client(url);
  const path = new URL(streamUrl(url, name)).pathname;
  const started = performance.now();
  let offset = "-1";
  let bytes = 0;
  let requests = 0;
  let first = true;
  try {
    for (;;) {
      const res = await client.request({ path: `${path}?offset=${encodeURIComponent(offset)}`, method: "GET" });
      requests++;
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`GET ${name} at ${offset}: HTTP ${res.statusCode}`);
      }
      let got = 0;
      for await (const chunk of res.body) {
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
  return { bytes, requests, seconds: (performance.now() - started) / 1000 };
}

run(async () => {
  const { url, stream, readers } = args;
  const ttfb = new Histogram();
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: readers }, () => replay(url, stream, ttfb)));
  const wall = (performance.now() - started) / 1000;
  const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
  const perReader = results.map((r) => r.bytes / r.seconds / 1e6).sort((a, b) => a - b);
  return {
    readers,
    bytesPerReader: results[0].bytes,
    requestsPerReader: results[0].requests,
    totalBytes: bytes,
    seconds: wall,
    aggregateMBps: bytes / wall / 1e6,
    readerMBpsMedian: perReader[perReader.length >> 1],
    ttfb: ttfb.summary(),
  };
});
