#!/usr/bin/env node
// Where scenario 5's bytes go: grows one fresh server in equal steps (idle streams, then,
// on a second server, idle SSE readers of one stream) and prints RSS and JS heap after
// every step, so the marginal cost per stream/reader (the slope between steps) can be told
// apart from one-off costs (the first step also pays for warming up code and pools).
// Optionally writes a heap snapshot after every step, for bench/tools/heap-diff.mjs.
// Memory only: RSS and heap are robust to a busy machine, the creation rate is not.
//   node bench/tools/footprint-probe.mjs [--server=rill-sqlite] [--streams=10000] [--stream-steps=3]
//        [--readers=1000] [--reader-steps=4] [--snapshots=<dir>] [--skip=streams|readers]
import { join } from "node:path";
import { createStream, jsonMessage, sleep, streamUrl } from "../lib/common.mjs";
import { installCleanup, runGenerator, startGenerator, startServerProcess } from "../lib/processes.mjs";
import { request } from "undici";

installCleanup();
const argv = process.argv.slice(2);
const option = (name, fallback) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const serverName = option("server", "rill-sqlite");
const streamsPerStep = Number(option("streams", 10_000));
const streamSteps = Number(option("stream-steps", 3));
const readersPerStep = Number(option("readers", 1000));
const readerSteps = Number(option("reader-steps", 4));
const snapshots = option("snapshots", null);
const skip = option("skip", "");
// Longest wait, before each reading, for V8 to shrink its young generation (see server-process.mjs); 0: none.
const settleMs = Number(option("settle", 60_000));

const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;

/** Reads memory (and a snapshot) after each step; prints the step's and the cumulative per-unit cost. */
async function measureSteps(server, label, steps, perStep, grow) {
  await sleep(300);
  const points = [{ units: 0, ...(await server.memory({ settleMs })) }];
  if (snapshots) await server.heapSnapshot(join(snapshots, `${serverName}-${label}-0.heapsnapshot`));
  for (let step = 1; step <= steps; step++) {
    await grow(step);
    await sleep(1000);
    const started = performance.now();
    const mem = { units: step * perStep, ...(await server.memory({ settleMs })) };
    const waited = ((performance.now() - started) / 1000).toFixed(1);
    points.push(mem);
    if (snapshots) await server.heapSnapshot(join(snapshots, `${serverName}-${label}-${step}.heapsnapshot`));
    const previous = points.at(-2);
    const base = points[0];
    const perUnit = (key, from) => ((mem[key] - from[key]) / (mem.units - from.units)).toFixed(0);
    const spacePerUnit = (name) => ((mem.spaces[name] - previous.spaces[name]) / perStep).toFixed(0);
    console.log(
      `${label} ${mem.units}: RSS ${kb(mem.rss)} (anon ${kb(mem.rssAnon)}, file ${kb(mem.rssFile)}) heap used ${kb(mem.heapUsed)} of ${kb(mem.heapTotal)} ` +
        `external ${kb(mem.external)} young ${kb(mem.spaces.new_space)} (settled: ${mem.settled} after ${waited} s)\n   per unit, this step: RSS ${perUnit("rss", previous)} anon ${perUnit("rssAnon", previous)} file ${perUnit("rssFile", previous)} ` +
        `heap used ${perUnit("heapUsed", previous)} committed ${perUnit("heapTotal", previous)} ` +
        `(new ${spacePerUnit("new_space")} old ${spacePerUnit("old_space")} code ${spacePerUnit("code_space")} large ${spacePerUnit("large_object_space")}); ` +
        `from base: RSS ${perUnit("rss", base)} heap used ${perUnit("heapUsed", base)}`,
    );
  }
  return points;
}

if (!skip.includes("streams")) {
  const server = await startServerProcess(serverName);
  try {
    await measureSteps(server, "streams", streamSteps, streamsPerStep, (step) =>
      runGenerator("create-streams", { url: server.url, count: streamsPerStep, prefix: `idle${step}`, concurrency: 32 }),
    );
  } finally {
    await server.stop();
  }
}

if (!skip.includes("readers")) {
  const server = await startServerProcess(serverName);
  const generators = [];
  try {
    await createStream(server.url, "idle-subs", { body: jsonMessage(0, 256) });
    const head = await request(streamUrl(server.url, "idle-subs"), { method: "HEAD" });
    await head.body.dump();
    const offset = head.headers["stream-next-offset"];
    await measureSteps(server, "readers", readerSteps, readersPerStep, async () => {
      const g = startGenerator("fanout-sub", { url: server.url, stream: "idle-subs", subscribers: readersPerStep, mode: "sse", offset });
      generators.push(g);
      await g.waitFor("ready", 300_000);
    });
  } finally {
    for (const g of generators) g.send({ cmd: "report" });
    await Promise.all(generators.map((g) => g.waitFor("result", 60_000).catch(() => undefined)));
    await Promise.all(generators.map((g) => g.stop()));
    await server.stop();
  }
}
