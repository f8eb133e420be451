// Launcher: runs ONE server (Rill or the reference) in this process, then reports
// its URL to the orchestrator over IPC. Started by bench/lib/processes.mjs with
// --expose-gc so the orchestrator can ask for a collected, settled RSS reading.
//
//   spec: { impl: "rill" | "ref" | "ceiling", store: "sqlite" | "memory" | "file" | "postgres", dataDir?, databaseUrl?, longPollTimeoutMs, metrics, tls?, compression? }
import { readFileSync } from "node:fs";
import v8 from "node:v8";

const spec = JSON.parse(process.argv[2]);

function statusField(status, field) {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/** VmRSS, and its split into anonymous memory (heap, malloc) and file pages (the node binary's code). */
function rssBytes() {
  const status = readFileSync(`/proc/${process.pid}/status`, "utf8");
  return {
    rss: statusField(status, "VmRSS") ?? process.memoryUsage().rss,
    rssAnon: statusField(status, "RssAnon"),
    rssFile: statusField(status, "RssFile"),
  };
}

/** Committed size of each V8 heap space (what the heap holds in RSS, used or not). */
function heapSpaces() {
  return Object.fromEntries(v8.getHeapSpaceStatistics().map((space) => [space.space_name, space.physical_space_size]));
}

let close = async () => undefined;
let stopping = false;

async function stop(code) {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 10_000);
  timer.unref();
  try {
    await close();
  } catch (error) {
    console.error(`[server ${spec.impl}-${spec.store}] close failed:`, error);
  }
  process.exit(code);
}

process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
// The orchestrator died or let go of us: do not linger.
process.on("disconnect", () => void stop(0));

/** Bytes the young generation holds (V8 grows it under allocation bursts; it is not part of any stream's cost). */
function youngBytes() {
  const spaces = heapSpaces();
  return (spaces.new_space ?? 0) + (spaces.new_large_object_space ?? 0);
}

/**
 * A burst of work (creating 10,000 streams, accepting 5,000 connections) makes
 * V8 grow its young generation to tens of MB, and a forced gc() does not give
 * that back: only V8's memory reducer does, once the process has been idle for
 * some seconds. Reading RSS before then counts a one-off, N-independent cost
 * as if it were per stream. With `settleMs`, the reading waits (up to that
 * long, without forcing GCs that would reset the reducer) until the young
 * generation is back to `YOUNG_SETTLED_BYTES`; the answer says whether it got there.
 */
const YOUNG_SETTLED_BYTES = 4 * 1024 * 1024;

async function settle(maxMs) {
  const until = Date.now() + maxMs;
  while (youngBytes() > YOUNG_SETTLED_BYTES && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 250));
  return youngBytes() <= YOUNG_SETTLED_BYTES;
}

async function memoryReading(settleMs) {
  const settled = settleMs > 0 ? await settle(settleMs) : null;
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  // Let freed pages settle before reading RSS.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const usage = process.memoryUsage();
  return {
    ...rssBytes(),
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    spaces: heapSpaces(),
    settled,
  };
}

process.on("message", (message) => {
  if (message?.cmd === "mem") {
    void memoryReading(message.settleMs ?? 0).then((reading) => process.send?.({ type: "mem", id: message.id, ...reading }));
  } else if (message?.cmd === "heap-snapshot") {
    // For bench/tools/footprint-probe.mjs: where the retained bytes are.
    globalThis.gc?.();
    const file = v8.writeHeapSnapshot(message.file);
    process.send?.({ type: "heap-snapshot", id: message.id, file });
  } else if (message?.cmd === "stop") {
    void stop(0);
  }
});

let url;
let startedAt;
if (spec.impl === "rill") {
  const { startServer, createSelfSignedCertificate } = await import("@rill/server");
  startedAt = performance.now();
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    memory: spec.store === "memory",
    ...(spec.store === "postgres" ? { store: "postgres", databaseUrl: spec.databaseUrl } : { dataDir: spec.dataDir }),
    longPollTimeoutMs: spec.longPollTimeoutMs,
    // Every simulated client of the load generator shares one address.
    limits: { maxConnectionsPerIp: 0 },
    metrics: spec.metrics !== false,
    // HTTPS (HTTP/2 + HTTP/1.1) with a throwaway certificate; the generators then skip verification.
    tls: spec.tls ? createSelfSignedCertificate() : undefined,
    compression: spec.compression ?? true,
  });
  url = server.url;
  close = () => server.close();
} else if (spec.impl === "ref") {
  const { DurableStreamTestServer } = await import("@durable-streams/server");
  startedAt = performance.now();
  const server = new DurableStreamTestServer({
    port: 0,
    host: "127.0.0.1",
    longPollTimeout: spec.longPollTimeoutMs,
    ...(spec.store === "file" ? { dataDir: spec.dataDir } : {}),
  });
  url = await server.start();
  close = () => server.stop();
} else if (spec.impl === "ceiling") {
  // The machine's HTTP ceiling for appends: bare node:http that reads each body
  // and answers as an append would (204 + Stream-Next-Offset), storing nothing.
  const { createServer } = await import("node:http");
  startedAt = performance.now();
  let offset = 0;
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (chunk) => (bytes += chunk.length));
    req.on("end", () => {
      offset += bytes;
      const status = req.method === "PUT" ? 201 : req.method === "POST" ? 204 : 200;
      res.writeHead(status, { "stream-next-offset": String(offset).padStart(16, "0") });
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
} else {
  throw new Error(`unknown server implementation ${spec.impl}`);
}
const readyMs = performance.now();

process.send?.({
  type: "ready",
  url: url.replace(/\/+$/, ""),
  pid: process.pid,
  // process start → server module loaded (Node boot + imports)
  bootMs: startedAt,
  // opening the store (reading the data directory) and listening
  openMs: readyMs - startedAt,
  // process start → listening
  sinceProcessStartMs: readyMs,
});
