// Launcher: runs ONE server (Rill or the reference) in this process, then reports
// its URL to the orchestrator over IPC. Started by bench/lib/processes.mjs with
// --expose-gc so the orchestrator can ask for a collected, settled RSS reading.
//
//   spec: { impl: "rill" | "ref" | "ceiling", store: "sqlite" | "memory" | "file" | "postgres", dataDir?, databaseUrl?, longPollTimeoutMs, metrics, tls?, compression? }
import { readFileSync } from "node:fs";

const spec = JSON.parse(process.argv[2]);

function rssBytes() {
  const status = readFileSync(`/proc/${process.pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : process.memoryUsage().rss;
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

process.on("message", (message) => {
  if (message?.cmd === "mem") {
    if (globalThis.gc) {
      globalThis.gc();
      globalThis.gc();
    }
    // Let freed pages settle before reading RSS.
    setTimeout(() => {
      const usage = process.memoryUsage();
      process.send?.({ type: "mem", id: message.id, rss: rssBytes(), heapUsed: usage.heapUsed, external: usage.external });
    }, 200);
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
