#!/usr/bin/env node
// The cost of metrics on the append hot path (issue 15): Rill on SQLite with metrics on
// (the default) and with `--no-metrics`, on the single-append load of bench:append
// (N keep-alive connections POSTing one 256-byte JSON message each to one stream).
// Rounds alternate the order (off, on / on, off, …) so drift in machine load hits
// both sides alike. Two figures: throughput (medians), and the server's CPU time per
// append (from /proc, around the measured run), which a shared machine disturbs less.
//
//   npm run bench:metrics [-- --rounds=3 --duration=5 --connections=50]
import { loadavg } from "node:os";
import { median } from "./lib/common.mjs";
import { installCleanup, runGenerator, startServerProcess } from "./lib/processes.mjs";
import { fmt, machine, machineMarkdown, sig, table, writeJson, writeSection } from "./lib/report.mjs";

installCleanup();
const argv = process.argv.slice(2);
const option = (name, fallback) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const rounds = option("rounds", 3);
const durationSec = option("duration", 5);
const connections = option("connections", 50);
const TARGET = 0.03;

/** One fresh durable server, a 1 s warm-up, then the measured run with the server's CPU time around it. */
async function measure(metrics, round) {
  const server = await startServerProcess("rill-sqlite", { metrics });
  try {
    const load = { url: server.url, streams: 1, connections, warmupSec: 0, prefix: `m${round}` };
    await runGenerator("append-load", { ...load, durationSec: 1 });
    const cpuBefore = server.cpu();
    const result = await runGenerator("append-load", { ...load, durationSec });
    const cpuSeconds = server.cpu() - cpuBefore;
    return { ...result, cpuSeconds, cpuMicrosPerAppend: (cpuSeconds / result.appends) * 1e6 };
  } finally {
    await server.stop();
  }
}

const info = machine();
console.log(`Metrics cost — Rill SQLite, metrics on vs --no-metrics — ${info.nproc} cores, load ${info.loadAverage.map((v) => v.toFixed(2)).join(" ")}`);
const runs = { on: [], off: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
  for (const side of order) {
    const row = await measure(side === "on", round);
    runs[side].push(row);
    console.log(
      `   round ${round + 1} metrics ${side.padEnd(3)} ${fmt(row.appendsPerSec)} appends/s, p99 ${sig(row.latency.p99)} ms, ` +
        `server CPU ${fmt(row.cpuMicrosPerAppend, 1)} µs/append${row.non2xx ? `, ${row.non2xx} failed` : ""}`,
    );
  }
}
const loadAtEnd = loadavg();
const medianOf = (side, key) => median(runs[side].map((r) => r[key]));
const throughputCost = 1 - medianOf("on", "appendsPerSec") / medianOf("off", "appendsPerSec");
const cpuCost = medianOf("on", "cpuMicrosPerAppend") / medianOf("off", "cpuMicrosPerAppend") - 1;
const verdict = (cost) => (cost <= TARGET ? "met" : "NOT met");
const pct = (x) => `${(x * 100).toFixed(1)}%`;
const summary = table(
  ["metrics", "appends/s per round", "median appends/s", "median p99 ms", "server CPU µs/append per round", "median µs/append"],
  ["off", "on"].map((side) => [
    side === "on" ? "on (default)" : "off (`--no-metrics`)",
    runs[side].map((r) => fmt(r.appendsPerSec)).join(", "),
    fmt(medianOf(side, "appendsPerSec")),
    sig(median(runs[side].map((r) => r.latency.p99))),
    runs[side].map((r) => fmt(r.cpuMicrosPerAppend, 1)).join(", "),
    fmt(medianOf(side, "cpuMicrosPerAppend"), 1),
  ]),
);
const figures =
  `Cost of metrics: server CPU per append **+${pct(cpuCost)}** (target ≤ ${TARGET * 100}%: **${verdict(cpuCost)}**); ` +
  `median throughput ${pct(-throughputCost)} (target ≥ −${TARGET * 100}%: **${verdict(throughputCost)}**).`;
console.log(`\n${summary}\n\n${figures}`);
writeSection(
  "metrics-cost",
  [
    "## Metrics cost on single appends (`npm run bench:metrics`, issue 15)",
    "",
    machineMarkdown(info, loadAtEnd),
    "",
    `Rill on SQLite (durable), ${connections} keep-alive connections each POSTing one 256-byte JSON message at a time to one stream, ` +
      `${durationSec} s per run after a 1 s warm-up, ${rounds} rounds alternating which side runs first; metrics on (the default: ` +
      "request counters and histograms, append and commit-round metrics) vs `--no-metrics`. Logging at its library default (warnings only) on both sides.",
    "",
    summary,
    "",
    figures,
    info.loadAverage[0] > info.nproc * 0.5
      ? "\nThe machine was shared and busy during this run (see the load average): throughput swings between runs far more than metrics could move it, so the CPU time per append is the figure to read."
      : "",
  ].join("\n"),
);
writeJson("results/metrics-cost.json", { machine: info, loadAtEnd, rounds, durationSec, connections, runs, throughputCost, cpuCost });
console.log('wrote bench/RESULTS.md (section "metrics-cost") and bench/results/metrics-cost.json');
process.exit(0);
