// Shared helpers for the orchestrators and the load-generator processes.
import { request } from "undici";

/** The server configurations a scenario can run against. */
export const SERVERS = {
  "rill-sqlite": { impl: "rill", store: "sqlite", label: "Rill SQLite (durable)", durable: true },
  "rill-memory": { impl: "rill", store: "memory", label: "Rill memory", durable: false },
  "ref-file": { impl: "ref", store: "file", label: "Reference file", durable: true },
  "ref-memory": { impl: "ref", store: "memory", label: "Reference memory", durable: false },
};

/**
 * Not a Durable Streams server: bare node:http answering appends without storing
 * them (bench/lib/server-process.mjs). Append scenarios run it as the machine's
 * HTTP ceiling and report every server as a share of it.
 */
export const CEILING = { impl: "ceiling", store: "none", label: "node:http ceiling", durable: false };

/** Rill on PostgreSQL (scenario 7 only; needs a database URL, so it is not in SERVERS). */
export const POSTGRES = { impl: "rill", store: "postgres", label: "Rill PostgreSQL", durable: false };

export const STREAM_BASE = "/v1/stream";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

/**
 * A JSON object of exactly `size` bytes (UTF-8), e.g. {"i":12,"t":1712345678901.123,"p":"xxxx"}.
 * `t` is optional (send timestamp for latency measurements).
 */
export function jsonMessage(i, size = 256, t) {
  const head = t === undefined ? `{"i":${i},"p":"` : `{"i":${i},"t":${t},"p":"`;
  const padding = size - head.length - 2;
  if (padding < 0) throw new Error(`message of ${size} bytes cannot hold ${head}`);
  return `${head}${"x".repeat(padding)}"}`;
}

/** A JSON array of `count` messages of `size` bytes, as one string. */
export function jsonBatch(start, count, size = 256) {
  const parts = new Array(count);
  for (let k = 0; k < count; k++) parts[k] = jsonMessage(start + k, size);
  return `[${parts.join(",")}]`;
}

const EVENTS = ["page_view", "click", "add_to_cart", "checkout", "search", "login"];

/**
 * A JSON array of `count` event records shaped like application telemetry
 * (ids, names, numbers, a random session token), so compression is measured
 * on something closer to real data than the padded messages above.
 */
export function variedJsonBatch(start, count) {
  const parts = new Array(count);
  for (let k = 0; k < count; k++) {
    const i = start + k;
    const r = Math.random();
    parts[k] = JSON.stringify({
      i,
      event: EVENTS[i % EVENTS.length],
      user: `user-${Math.floor(r * 100_000)}`,
      path: `/products/${Math.floor(r * 9_973) % 5_000}`,
      ts: 1_764_547_200_000 + i * 37,
      durationMs: Math.round(r * 4_000),
      ok: r > 0.05,
      session: Math.random().toString(16).slice(2, 14),
      tags: r > 0.5 ? ["mobile", "eu"] : ["desktop"],
    });
  }
  return `[${parts.join(",")}]`;
}

export function streamUrl(baseUrl, name) {
  return `${baseUrl}${STREAM_BASE}/${name}`;
}

/** PUT a stream (idempotent create). Throws unless 200/201. */
export async function createStream(baseUrl, name, { contentType = "application/json", body, dispatcher } = {}) {
  const res = await request(streamUrl(baseUrl, name), {
    method: "PUT",
    headers: { "content-type": contentType },
    body,
    dispatcher,
  });
  await res.body.dump();
  if (res.statusCode !== 200 && res.statusCode !== 201) {
    throw new Error(`PUT ${name} answered ${res.statusCode}`);
  }
}

/** POST one body to a stream. Returns the next offset. */
export async function appendTo(baseUrl, name, body, { contentType = "application/json", dispatcher } = {}) {
  const res = await request(streamUrl(baseUrl, name), {
    method: "POST",
    headers: { "content-type": contentType },
    body,
    dispatcher,
  });
  await res.body.dump();
  if (res.statusCode !== 200 && res.statusCode !== 204) {
    throw new Error(`POST ${name} answered ${res.statusCode}`);
  }
  return res.headers["stream-next-offset"];
}

/** Run `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function forEachLimit(n, concurrency, task) {
  let next = 0;
  const runners = [];
  for (let r = 0; r < Math.min(concurrency, n); r++) {
    runners.push(
      (async () => {
        while (next < n) {
          const i = next++;
          await task(i);
        }
      })(),
    );
  }
  await Promise.all(runners);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
