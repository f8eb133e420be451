// The scenarios of issue 6. Each function runs one scenario against the given server
// configurations (one fresh server process at a time, generators in their own
// processes) and returns plain data for the report.
import { execFileSync } from "node:child_process";
import { request } from "undici";
import { createStream, jsonMessage, sleep, streamUrl } from "./common.mjs";
import { Histogram } from "./histogram.mjs";
import { fmt } from "./report.mjs";
import { cpuSecondsOf, makeTempDir, removeTempDir, runGenerator, startGenerator, startServerProcess } from "./processes.mjs";

const log = (...parts) => console.log("  ", ...parts);

/** Runs one cell of a scenario; a failure is logged and recorded as a row instead of ending the run. */
async function attempt(rows, base, body) {
  try {
    await body();
  } catch (error) {
    rows.push({ ...base, error: firstLine(error) });
    log(`${base.server.padEnd(12)} FAILED: ${firstLine(error)}`);
  }
}

async function withServer(name, options, body) {
  const server = await startServerProcess(name, options);
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

// ─── Scenario 1: durable appends ──────────────────────────────────────────────

export async function appends(servers, { connections, streamCounts, durationSec, warmupSec, cpuProf }) {
  const rows = [];
  for (const name of servers) {
    for (const streams of streamCounts) {
      await attempt(rows, { server: name, streams }, () => withServer(name, { cpuProf: cpuProf?.(name) }, async (server) => {
        for (const conns of connections) {
          const cpuBefore = server.cpu();
          const result = await runGenerator("append-load", {
            url: server.url,
            streams,
            connections: conns,
            durationSec,
            warmupSec,
            prefix: `s1-c${conns}`,
          });
          const cpuSeconds = server.cpu() - cpuBefore;
          // Server CPU time per request (µs): unlike appends/s it barely moves when other work shares the cores.
          const cpuMicrosPerAppend = (1e6 * cpuSeconds) / Math.max(1, result.requestsIncludingWarmup);
          rows.push({ server: name, streams, connections: conns, ...strip(result), cpuMicrosPerAppend });
          log(
            `${name.padEnd(12)} ${String(streams).padStart(4)} stream(s) ${String(conns).padStart(3)} conns: ` +
              `${fmt(result.appendsPerSec)} appends/s  p50 ${fmt(result.latency.p50, 2)} ms  p99 ${fmt(result.latency.p99, 2)} ms  ` +
              `server ${fmt(cpuMicrosPerAppend)} µs CPU/append` +
              (result.non2xx || result.errors ? `  (non-2xx ${result.non2xx}, errors ${result.errors})` : ""),
          );
        }
      }));
    }
  }
  return rows;
}

function strip(message) {
  const { type: _type, ...rest } = message;
  return rest;
}

// ─── Scenario 2: idempotent producer throughput ──────────────────────────────

/** Which producer implementations to run against a server: its own project's, plus extras. */
export async function producers(servers, { messages, streamCounts, impls, cpuProf }) {
  const rows = [];
  for (const name of servers) {
    await withServer(name, { cpuProf: cpuProf?.(name) }, async (server) => {
      for (const impl of impls(name)) {
        for (const streams of streamCounts) {
          try {
            const result = await runGenerator("producer", {
              url: server.url,
              impl,
              streams,
              messages,
              prefix: `s2-${streams}`,
            });
            rows.push({ server: name, impl, streams, ...strip(result) });
            log(
              `${name.padEnd(12)} ${impl.padEnd(8)} ${String(streams).padStart(3)} stream(s): ` +
                `${fmt(result.messages)} msgs in ${fmt(result.seconds, 2)} s = ${fmt(result.msgsPerSec)} msgs/s`,
            );
          } catch (error) {
            rows.push({ server: name, impl, streams, error: firstLine(error) });
            log(`${name.padEnd(12)} ${impl.padEnd(8)} ${String(streams).padStart(3)} stream(s): FAILED ${firstLine(error)}`);
          }
        }
      }
    });
  }
  return rows;
}

function firstLine(error) {
  return String(error?.message ?? error).split("\n").slice(0, 2).join(" ").slice(0, 300);
}

// ─── Scenario 3: catch-up reads ──────────────────────────────────────────────

/**
 * `encodings`: Accept-Encoding values to replay with, one run each on the same
 * stream (null: none, the default); `varied`: telemetry-like JSON instead of
 * padded messages (which compress unrealistically well).
 */
export async function catchUp(servers, { streamBytes, readers, cpuProf, encodings = [null], varied = false }) {
  const rows = [];
  for (const name of servers) {
    await attempt(rows, { server: name }, () => withServer(name, { cpuProf: cpuProf?.(name) }, async (server) => {
      const fill = await runGenerator("fill", { url: server.url, stream: "catchup", totalBytes: streamBytes, varied });
      for (const acceptEncoding of encodings) {
        const cpu0 = server.cpu();
        const result = await runGenerator("catchup", { url: server.url, stream: "catchup", readers, acceptEncoding });
        const serverCpuSeconds = server.cpu() - cpu0;
        const rss = server.rss();
        const streamMB = result.bytesPerReader / 1e6;
        rows.push({ server: name, streamBytes: fill.bytes ?? result.bytesPerReader, acceptEncoding, ...strip(result), serverCpuSeconds, rssAfter: rss });
        log(
          `${name.padEnd(12)} ${readers} readers × ${fmt(streamMB, 1)} MB${acceptEncoding ? ` (${acceptEncoding}: ${fmt(result.wireBytesPerReader / 1e6, 1)} MB on the wire)` : ""}: ` +
            `${fmt(result.aggregateMBps, 1)} MB/s aggregate, TTFB p50 ${fmt(result.ttfb.p50, 1)} ms p99 ${fmt(result.ttfb.p99, 1)} ms, ` +
            `${fmt(result.seconds, 2)} s, server CPU ${fmt(serverCpuSeconds, 2)} s`,
        );
      }
    }));
  }
  return rows;
}

// ─── Scenario 4: fan-out ─────────────────────────────────────────────────────

async function tailOffset(url, name) {
  const res = await request(streamUrl(url, name), { method: "HEAD" });
  await res.body.dump();
  return res.headers["stream-next-offset"];
}

/**
 * Starts `subscribers` live readers spread over generator processes; resolves once all are connected.
 * `transport`: "h1" (plain HTTP/1.1, a connection per reader), "h1-tls" (the same over TLS), or "h2"
 * (HTTP/2 over TLS, 100 readers per connection).
 */
async function startSubscribers(url, stream, subscribers, mode, perProcess, transport = "h1") {
  const offset = await tailOffset(url, stream);
  const generators = [];
  const tls = { h2: transport === "h2", insecure: transport !== "h1" };
  for (let start = 0; start < subscribers; start += perProcess) {
    const count = Math.min(perProcess, subscribers - start);
    generators.push(startGenerator("fanout-sub", { url, stream, subscribers: count, mode, offset, ...tls }, { label: `subscribers(${mode})` }));
  }
  await Promise.all(generators.map((g) => g.waitFor("ready", 300_000)));
  return generators;
}

async function collectSubscribers(generators) {
  for (const g of generators) g.send({ cmd: "report" });
  const results = await Promise.all(generators.map((g) => g.waitFor("result", 120_000)));
  await Promise.all(generators.map((g) => g.stop()));
  const latency = new Histogram();
  let delivered = 0;
  let duplicates = 0;
  let reconnects = 0;
  let errors = 0;
  let firstError = null;
  for (const r of results) {
    latency.merge(r.latency);
    delivered += r.delivered;
    duplicates += r.duplicates;
    reconnects += r.reconnects;
    errors += r.errors;
    firstError ??= r.firstError;
  }
  return { latency, delivered, duplicates, reconnects, errors, firstError };
}

async function drain(generators, expected, stallMs, maxMs) {
  const started = performance.now();
  let last = -1;
  let lastChange = started;
  for (;;) {
    for (const g of generators) g.send({ cmd: "progress" });
    const replies = await Promise.all(generators.map((g) => g.waitFor("progress", 60_000)));
    const delivered = replies.reduce((sum, r) => sum + r.delivered, 0);
    const now = performance.now();
    if (delivered >= expected) return;
    if (delivered !== last) {
      last = delivered;
      lastChange = now;
    } else if (now - lastChange >= stallMs) return;
    if (now - started >= maxMs) return;
    await sleep(100);
  }
}

export async function fanOut(servers, { points, durationSec, rate, drainMs, graceSec, perProcess, cpuProf }) {
  const rows = [];
  for (const name of servers) {
    for (const { mode, subscribers, transport = "h1" } of points) {
      const tls = transport !== "h1";
      await attempt(rows, { server: name, mode, subscribers, transport }, () => withServer(name, { cpuProf: cpuProf?.(name), tls }, async (server) => {
        await createStream(server.url, "fanout");
        const generators = await startSubscribers(server.url, "fanout", subscribers, mode, perProcess, transport);
        // Long-poll readers are "connected" once their first request is out: give the server time to park them.
        await sleep(mode === "long-poll" ? 1000 + subscribers / 5 : 500);
        const rssConnected = server.rss();
        const serverCpu0 = server.cpu();
        const serverWait0 = server.runQueue();
        const subsCpu0 = generators.reduce((sum, g) => sum + cpuSecondsOf(g.pid), 0);
        const phaseStart = performance.now();
        const writer = await runGenerator("fanout-writer", { url: server.url, stream: "fanout", rate, durationSec, graceSec, insecure: tls });
        // Every acknowledged append should reach every subscriber: wait for that, for deliveries to stall
        // for `drainMs`, or for `graceSec`, whichever comes first.
        const expected = writer.acknowledged * subscribers;
        await drain(generators, expected, drainMs, graceSec * 1000);
        const phaseSeconds = (performance.now() - phaseStart) / 1000;
        // Share of one core used during the write + drain phase (2.0 = both cores).
        const serverCores = (server.cpu() - serverCpu0) / phaseSeconds;
        // Share of the phase the server's main thread was ready to run but waited for a CPU.
        const serverCpuWait = (server.runQueue() - serverWait0) / phaseSeconds;
        const subscriberCores = (generators.reduce((sum, g) => sum + cpuSecondsOf(g.pid), 0) - subsCpu0) / phaseSeconds;
        const collected = await collectSubscribers(generators);
        const summary = collected.latency.summary();
        rows.push({
          server: name,
          mode,
          subscribers,
          transport,
          scheduled: writer.scheduled,
          acknowledged: writer.acknowledged,
          writerFailed: writer.failed,
          writerUnanswered: writer.unanswered,
          appendLatency: writer.appendLatency,
          delivered: collected.delivered,
          duplicates: collected.duplicates,
          expected,
          deliveredPct: expected ? (100 * collected.delivered) / expected : null,
          reconnects: collected.reconnects,
          errors: collected.errors,
          firstError: collected.firstError,
          latency: summary,
          rssConnected,
          serverCores,
          serverCpuWait,
          subscriberCores,
        });
        log(
          `${name.padEnd(12)} ${mode.padEnd(9)}${transport === "h1" ? "" : ` ${transport}`} ${String(subscribers).padStart(5)} subs: p50 ${fmt(summary.p50, 1)} ms  ` +
            `p99 ${fmt(summary.p99, 1)} ms  max ${fmt(summary.max, 1)} ms  delivered ${fmt(rows.at(-1).deliveredPct, 1)}%  ` +
            `CPU server ${fmt(serverCores, 2)} (waited for a CPU ${fmt(100 * serverCpuWait, 0)}% of the time) subscribers ${fmt(subscriberCores, 2)} cores; ` +
            `appends acked ${writer.acknowledged}/${writer.scheduled} (p99 ${fmt(writer.appendLatency.p99, 1)} ms)` +
            (collected.duplicates ? `  duplicates ${collected.duplicates}` : "") +
            (collected.errors ? `  errors ${collected.errors} (${collected.firstError})` : ""),
        );
      }));
    }
  }
  return rows;
}

// ─── Scenario 5: footprint ───────────────────────────────────────────────────

/** Bytes V8's young generation holds in a memory reading. */
const youngBytes = (mem) => (mem.spaces?.new_space ?? 0) + (mem.spaces?.new_large_object_space ?? 0);

/**
 * The marginal cost of one unit (stream, reader) between two readings taken
 * after `units` more were added: the slope, not the total over a fresh
 * baseline. A fresh server's first burst of work pays one-off costs that do
 * not grow with N (V8 grows its young generation to tens of MB and a forced
 * GC does not give it back; code gets compiled, pools fill), and divided by N
 * they read as a per-unit cost. The first half of the units absorbs those;
 * the second half is measured. Any young-generation change still left between
 * the two readings is taken out of the RSS slope, and reported.
 */
function marginal(before, after, units) {
  const youngChange = youngBytes(after) - youngBytes(before);
  return {
    rss: (after.rss - before.rss - youngChange) / units,
    heap: (after.heapUsed - before.heapUsed) / units,
    youngChange,
  };
}

export async function footprint(servers, { idleStreams, idleSubscribers, perProcess, cpuProf }) {
  const rows = [];
  const initialBody = jsonMessage(0, 256);
  const firstStreams = Math.floor(idleStreams / 2);
  const firstSubscribers = Math.floor(idleSubscribers / 2);
  for (const name of servers) {
    const row = { server: name };
    const failed = [];
    await attempt(failed, { server: name }, () => withServer(name, { cpuProf: cpuProf?.(name) }, async (server) => {
      await sleep(300);
      const base = await server.memory();
      const create = (count, prefix) => runGenerator("create-streams", { url: server.url, count, prefix, concurrency: 32 });
      const first = await create(firstStreams, "idle-a");
      await sleep(500);
      const half = await server.memory();
      const second = await create(idleStreams - firstStreams, "idle-b");
      await sleep(500);
      const after = await server.memory();
      const slope = marginal(half, after, idleStreams - firstStreams);
      Object.assign(row, {
        idleStreams,
        baseRss: base.rss,
        streamsRss: after.rss,
        perStreamBytes: slope.rss,
        perStreamHeapBytes: slope.heap,
        streamsYoungChange: slope.youngChange,
        perStreamFromBaseBytes: (after.rss - base.rss) / idleStreams,
        createPerSec: idleStreams / (first.seconds + second.seconds),
      });
    }));
    await attempt(failed, { server: name }, () => withServer(name, { cpuProf: cpuProf?.(name) }, async (server) => {
      await createStream(server.url, "idle-subs", { body: initialBody });
      await sleep(300);
      const base = await server.memory();
      const generators = await startSubscribers(server.url, "idle-subs", firstSubscribers, "sse", perProcess);
      await sleep(1000);
      const half = await server.memory();
      generators.push(...(await startSubscribers(server.url, "idle-subs", idleSubscribers - firstSubscribers, "sse", perProcess)));
      await sleep(1000);
      const after = await server.memory();
      await collectSubscribers(generators);
      const slope = marginal(half, after, idleSubscribers - firstSubscribers);
      Object.assign(row, {
        idleSubscribers,
        subsBaseRss: base.rss,
        subsRss: after.rss,
        perSubscriberBytes: slope.rss,
        perSubscriberHeapBytes: slope.heap,
        subsYoungChange: slope.youngChange,
        perSubscriberFromBaseBytes: (after.rss - base.rss) / idleSubscribers,
      });
    }));
    if (failed.length) row.error = failed.map((f) => f.error).join("; ");
    rows.push(row);
    log(
      `${name.padEnd(12)} base ${fmt(row.baseRss / 1e6, 1)} MB; ${fmt(idleStreams)} streams → +${fmt((row.streamsRss - row.baseRss) / 1e6, 1)} MB ` +
        `(marginal ${fmt(row.perStreamBytes)} B/stream, ${fmt(row.perStreamHeapBytes)} B heap; created at ${fmt(row.createPerSec)}/s); ${fmt(idleSubscribers)} SSE subs → ` +
        `+${fmt((row.subsRss - row.subsBaseRss) / 1e6, 1)} MB (marginal ${fmt(row.perSubscriberBytes)} B/subscriber, ${fmt(row.perSubscriberHeapBytes)} B heap)`,
    );
  }
  return rows;
}

// ─── Scenario 6: restart ─────────────────────────────────────────────────────

function diskUsage(dir) {
  try {
    return Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split(/\s+/)[0]);
  } catch {
    return null;
  }
}

export async function restart(servers, { streams, bulkBytes, cpuProf }) {
  const rows = [];
  for (const name of servers) {
    const dataDir = makeTempDir(`restart-${name}`);
    await attempt(rows, { server: name }, async () => {
      try {
        const setup = await withServer(name, { dataDir }, async (server) => {
          // Empty streams: the reference's file store loses creates-with-body under concurrency.
          const created = await runGenerator("create-streams", { url: server.url, count: streams, prefix: "r", concurrency: 32 });
          const fill = bulkBytes > 0
            ? await runGenerator("fill", {
                url: server.url,
                stream: "bulk",
                contentType: "application/octet-stream",
                totalBytes: bulkBytes,
                batchBytes: 4 * 1024 * 1024,
                connections: 2,
              })
            : { bytes: 0 };
          return { created, fill };
        });
        const onDisk = diskUsage(dataDir);
        const spawnedAt = performance.now();
        const result = await withServer(name, { dataDir, cpuProf: cpuProf?.(name) }, async (server) => {
          const readyMs = server.startup.spawnToReadyMs;
          // First useful answer: the last stream created, read from the start.
          const res = await request(`${streamUrl(server.url, `r-${streams - 1}`)}?offset=-1`);
          await res.body.text();
          const firstReadMs = performance.now() - spawnedAt;
          if (res.statusCode !== 200) throw new Error(`${name}: stream r-${streams - 1} after restart: HTTP ${res.statusCode}`);
          const head = await request(streamUrl(server.url, "bulk"), { method: "HEAD" });
          await head.body.dump();
          return { readyMs, bootMs: server.startup.bootMs, openMs: server.startup.openMs, firstReadMs, bulkStatus: head.statusCode, rssAfterStart: server.rss() };
        });
        rows.push({
          server: name,
          streams,
          bulkBytes: setup.fill.bytes,
          onDiskBytes: onDisk,
          createPerSec: setup.created.perSec,
          ...result,
        });
        log(
          `${name.padEnd(12)} ${fmt(streams)} streams + ${fmt(setup.fill.bytes / 1e6)} MB (${fmt(onDisk / 1e6)} MB on disk): ` +
            `ready in ${fmt(result.readyMs)} ms (open ${fmt(result.openMs)} ms), first read at ${fmt(result.firstReadMs)} ms`,
        );
      } finally {
        removeTempDir(dataDir);
      }
    });
  }
  return rows;
}
