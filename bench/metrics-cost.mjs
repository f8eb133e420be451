#!/usr/bin/env node
// The cost of metrics on the append hot path (issue 15): Rill on SQLite with metrics on
// (the default) and with `--no-metrics`, on the single-append load of bench:append
// (N keep-alive connections POSTing one 256-byte JSON message each to one stream).
// Rounds alternate the order (off, on / on, off, …) so drift in machine load hits
// both sides alike; the figure is the ratio of the medians.
//
//   npm run bench:metrics [-- --rounds=3 --duration=5 --connections=50]
import { loadavg } from "node:os";
import { installCleanup } from "./lib/processes.mjs";
import { median } from "./lib/common.mjs";
import { fmt, machine, machineMarkdown, sig, table, writeJson, writeSection } from "./lib/report.mjs";
import * as scenarios from "./lib/scenarios.mjs";

installCleanup();
const argv = process.argv.slice(2);
const option = (name, fallback) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const rounds = option("rounds", 3);
const durationSec = option("duration", 5);
const connections = option("connections", 50);
const TARGET = 0.03;

const info = machine();
console.log(`Metrics cost — Rill SQLite, metrics on vs --no-metrics — ${info.nproc} cores, load ${info.loadAverage.map((v) => v.toFixed(2)).join(" ")}`);
const runs = { on: [], off: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
  for (const side of order) {
    const [row] = await scenarios.appends(["rill-sqlite"], {
      connections: [connections],
      streamCounts: [1],
      durationSec,
      warmupSec: 1,
      serverOptions: { metrics: side === "on" },
    });
    if (!row || row.error) throw new Error(`round ${round + 1}, metrics ${side}: ${row?.error ?? "no result"}`);
    runs[side].push(row);
    console.log(`   round ${round + 1} metrics ${side.padEnd(3)} ${fmt(row.appendsPerSec)} appends/s, p99 ${sig(row.latency.p99)} ms`);
  }
}
const loadAtEnd = loadavg();
const on = median(runs.on.map((r) => r.appendsPerSec));
const off = median(runs.off.map((r) => r.appendsPerSec));
const cost = 1 - on / off;
const verdict = cost <= TARGET ? "met" : "NOT met";
const summary = table(
  ["metrics", "appends/s per round", "median appends/s", "median p99 ms"],
  ["off", "on"].map((side) => [
    side === "on" ? "on (default)" : "off (`--no-metrics`)",
    runs[side].map((r) => fmt(r.appendsPerSec)).join(", "),
    fmt(median(runs[side].map((r) => r.appendsPerSec))),
    sig(median(runs[side].map((r) => r.latency.p99))),
  ]),
);
console.log(`\n${summary}\n\nmetrics cost ${(cost * 100).toFixed(1)}% of throughput (target ≤ ${TARGET * 100}%: ${verdict})`);
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
    `Cost of metrics: **${(cost * 100).toFixed(1)}%** of the median throughput (target ≤ ${TARGET * 100}%: **${verdict}**).`,
    info.loadAverage[0] > info.nproc * 0.5
      ? "\nThe machine was shared and busy during this run (see the load average): run-to-run noise is larger than the difference measured; treat the figure as an estimate."
      : "",
  ].join("\n"),
);
writeJson("results/metrics-cost.json", { machine: info, loadAtEnd, rounds, durationSec, connections, runs, cost });
console.log('wrote bench/RESULTS.md (section "metrics-cost") and bench/results/metrics-cost.json');
process.exit(0);
