#!/usr/bin/env node
// What compressing SSE would cost (issue 16). A compressed SSE response needs a
// compression context per reader (each connection's stream state differs), and
// every frame must be flushed at once (Z_SYNC_FLUSH / BROTLI_OPERATION_FLUSH), so
// the server can no longer write one shared, pre-encoded frame to every reader.
// This measures, for `readers` readers and frames like the fan-out scenario's:
// the added time per append to encode the frame for every reader, the bytes saved,
// and the memory the contexts hold.
//   node bench/tools/sse-compression-cost.mjs [readers=1000] [frames=200]
//   writes the "sse-compression" section of bench/RESULTS.md
import { constants, createBrotliCompress, createGzip } from "node:zlib";
import { jsonMessage } from "../lib/common.mjs";
import { fmt, machine, machineMarkdown, table, writeSection } from "../lib/report.mjs";

const readers = Number(process.argv[2] ?? 1000);
const frames = Number(process.argv[3] ?? 200);
const frameOf = (i) =>
  `event: data\ndata:[${jsonMessage(i, 256, (Date.now() + i).toFixed(3))}]\n\n` +
  `event: control\ndata:{"streamNextOffset":"0000000000000000_${String(i * 257).padStart(16, "0")}","streamCursor":"3384429","upToDate":true}\n\n`;

function flushOnce(stream, frame, flushKind) {
  return new Promise((resolve) => {
    let out = 0;
    const onData = (chunk) => (out += chunk.length);
    stream.on("data", onData);
    stream.write(frame);
    stream.flush(flushKind, () => {
      stream.off("data", onData);
      resolve(out);
    });
  });
}

async function measure(name, make, flushKind) {
  const rssBefore = process.memoryUsage().rss;
  const contexts = Array.from({ length: readers }, make);
  let rssContexts = 0;
  const perAppendMs = [];
  let plainBytes = 0;
  let wireBytes = 0;
  for (let i = 0; i < frames; i++) {
    const frame = Buffer.from(frameOf(i));
    const started = performance.now();
    const sizes = await Promise.all(contexts.map((c) => flushOnce(c, frame, flushKind)));
    perAppendMs.push(performance.now() - started);
    // zlib allocates its window and hash tables on first use: count memory once every context has run.
    if (i === 0) rssContexts = process.memoryUsage().rss - rssBefore;
    plainBytes += frame.length;
    wireBytes += sizes[0];
  }
  for (const c of contexts) c.destroy();
  perAppendMs.sort((a, b) => a - b);
  return {
    name,
    p50: perAppendMs[perAppendMs.length >> 1],
    p99: perAppendMs[Math.floor(perAppendMs.length * 0.99)],
    ratio: wireBytes / plainBytes,
    rssPerReaderKiB: rssContexts / readers / 1024,
  };
}

const info = machine();
const rows = [
  await measure("gzip (level 6, sync flush per frame)", () => createGzip({ level: 6 }), constants.Z_SYNC_FLUSH),
  await measure("gzip (level 1, windowBits 10, memLevel 1)", () => createGzip({ level: 1, windowBits: 10, memLevel: 1 }), constants.Z_SYNC_FLUSH),
  await measure("br (quality 4, flush per frame)", () => createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }), constants.BROTLI_OPERATION_FLUSH),
];
const md = [
  "## SSE compression: the cost per append (issue 16; `node bench/tools/sse-compression-cost.mjs`)",
  "",
  machineMarkdown(info),
  "",
  "**Measured on a busy machine.** Uncompressed, the server encodes a frame once and writes the same bytes to every reader. " +
    `Compressed, it must run every reader's own compressor and flush it for each frame. Time to do that for ${fmt(readers)} readers, ` +
    `over ${fmt(frames)} appends of one 256-byte JSON message:`,
  "",
  table(
    ["encoding", "added per append, p50 (ms)", "p99 (ms)", "wire bytes vs plain", "memory per reader (KiB)"],
    rows.map((r) => [r.name, fmt(r.p50, 1), fmt(r.p99, 1), `${fmt(100 * r.ratio, 0)}%`, fmt(r.rssPerReaderKiB, 0)]),
  ),
  "",
  "Frames do shrink well (each reader's context remembers the frames before), but the added latency is not nil: every " +
    "append waits for a compression round over all its readers on the event loop, which grows with the number of readers, and " +
    "each reader holds its own compression state. Rill therefore does not compress SSE; catch-up, where the cost is paid " +
    "once per chunk and shared, is compressed.",
];
writeSection("sse-compression", md.join("\n"));
console.log(md.join("\n"));
