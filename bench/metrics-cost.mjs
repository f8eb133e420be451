#!/usr/bin/env node
// The cost of metrics on the append hot path (issue 15): Rill on SQLite with metrics on
// (the default) and with `--no-metrics`, on the single-append load of bench:append
// (N keep-alive connections POSTing one 256-byte JSON message each to one stream).
// Rounds alternate the order (off, on / on, off, …) so drift in machine load hits
// both sides alike. Two figures: throughput (medians), and the server's CPU time per
// append (from /proc, around the measured run), which a shared machine disturbs less.
//
//   npm run bench:metrics [-- --rounds=3 --duration=5 --connections=50]
//   node bench/metrics-cost.mjs --report-from=bench/results/metrics-cost.json   (rebuild the section only)
import { readFileSync } from "node:fs";
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

/**
 * The section for RESULTS.md. A verdict needs runs that agree with each other:
 * when the runs of one side differ by more than the target (a busy, shared
 * machine), the comparison is reported as inconclusive rather than met.
 */
function report({ machine: info, loadAtEnd, rounds, durationSec, connections, runs }) {
  const medianOf = (side, key) => median(runs[side].map((r) => r[key]));
  const spread = (key) => Math.max(...["on", "off"].map((side) => {
    const values = runs[side].map((r) => r[key]);
    return Math.max(...values) / Math.min(...values) - 1;
  }));
  const signed = (x) => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)}%`;
  const judge = (cost, key) =>
    spread(key) > TARGET ? `inconclusive: runs of one side differ by up to ${signed(spread(key)).slice(1)}` : cost <= TARGET ? "met" : "NOT met";
  const cpuCost = medianOf("on", "cpuMicrosPerAppend") / medianOf("off", "cpuMicrosPerAppend") - 1;
  const throughputCost = 1 - medianOf("on", "appendsPerSec") / medianOf("off", "appendsPerSec");
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
    `Metrics on vs off: server CPU per append ${signed(cpuCost)} (target ≤ +${TARGET * 100}%: **${judge(cpuCost, "cpuMicrosPerAppend")}**); ` +
    `median throughput ${signed(-throughputCost)} (target ≥ −${TARGET * 100}%: **${judge(throughputCost, "appendsPerSec")}**).`;
  const markdown = [
    "## Metrics cost on single appends (`npm run bench:metrics`, issue 15)",
    "",
    machineMarkdown(info, loadAtEnd),
    "",
    `Rill on SQLite (durable), ${connections} keep-alive connections each POSTing one 256-byte JSON message at a time to one stream, ` +
      `${durationSec} s per run after a 1 s warm-up, ${rounds} rounds alternating which side runs first; metrics on (the default: ` +
      "request counters and histograms, append and commit-round metrics) vs `--no-metrics`. Logging at its library default (warnings only) on both sides. " +
      "Server CPU per append is the server process's user+system time over the measured run divided by the appends acknowledged.",
    "",
    summary,
    "",
    figures,
  ].join("\n");
  return { markdown, summary, figures, cpuCost, throughputCost };
}

// --report-from=<results.json>: rebuild the section from a saved run, without running anything.
const reportFrom = argv.find((a) => a.startsWith("--report-from="))?.split("=")[1];
if (reportFrom) {
  const saved = JSON.parse(readFileSync(reportFrom, "utf8"));
  writeSection("metrics-cost", report(saved).markdown);
  console.log(`rebuilt bench/RESULTS.md (section "metrics-cost") from ${reportFrom}`);
  process.exit(0);
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
const saved = { machine: info, loadAtEnd: loadavg(), rounds, durationSec, connections, runs };
const { markdown, summary, figures } = report(saved);
console.log(`\n${summary}\n\n${figures}`);
writeSection("metrics-cost", markdown);
writeJson("results/metrics-cost.json", saved);
console.log('wrote bench/RESULTS.md (section "metrics-cost") and bench/results/metrics-cost.json');
process.exit(0);
