#!/usr/bin/env node
// The benchmark suite of issue 6: every scenario against Rill (SQLite and memory) and
// the reference server (memory and file mode), in one run, with the same generators.
//
//   npm run bench                      full run (~25-30 min on 2 cores)
//   npm run bench -- --quick           ~3-minute subset
//   options: --only=1,4   run only these scenarios (does not rewrite the suite section of RESULTS.md;
//                         scenarios 7 and 8 — HTTP/2 fan-out, compressed catch-up — write their own section)
//            --servers=rill-sqlite,ref-memory   (does not rewrite RESULTS.md)
//            --profile    write V8 CPU profiles of every server process to a temp dir
//            --no-write   print only
//            --report-from=bench/results/suite.json   rebuild RESULTS.md and charts from a saved run
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { SERVERS } from "./lib/common.mjs";
import { rillClientAvailable } from "./lib/client-check.mjs";
import { BENCH_DIR, installCleanup } from "./lib/processes.mjs";
import { fmt, fmtRatio, machine, machineMarkdown, ratio, sig, table, writeJson, writeSection } from "./lib/report.mjs";
import { http2Report } from "./lib/report-http2.mjs";
import { limitations } from "./lib/report-limitations.mjs";
import * as scenarios from "./lib/scenarios.mjs";
import { lineChart } from "./lib/svg-chart.mjs";

installCleanup();

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const quick = flag("quick");
const only = option("only")?.split(",").map(Number) ?? [1, 2, 3, 4, 5, 6, 7, 8];
const servers = option("servers")?.split(",") ?? Object.keys(SERVERS);
for (const s of servers) if (!SERVERS[s]) throw new Error(`unknown server ${s}; known: ${Object.keys(SERVERS).join(", ")}`);
const complete = [1, 2, 3, 4, 5, 6].every((n) => only.includes(n)) && servers.length === Object.keys(SERVERS).length;
const write = complete && !flag("no-write");
const profileDir = flag("profile") ? mkdtempSync(join(tmpdir(), "rill-bench-profiles-")) : null;
const cpuProf = profileDir ? () => profileDir : undefined;

// Scenario 7: the same 1,000 SSE readers over HTTP/1.1 (cleartext and TLS) and multiplexed over HTTP/2.
const FANOUT_H2 = {
  points: ["h1", "h1-tls", "h2"].map((transport) => ({ mode: "sse", subscribers: 1000, transport })),
  durationSec: 10,
  rate: 50,
  drainMs: 3000,
  graceSec: 15,
  perProcess: 1000,
};

let P = quick
  ? {
      s1: { connections: [1, 64], streamCounts: [1, 1000], durationSec: 2, warmupSec: 0.5 },
      s2: { messages: 20_000, streamCounts: [1, 100], extras: false },
      s3: { streamBytes: 10e6, readers: 10 },
      s4: {
        points: [
          { mode: "sse", subscribers: 100 },
          { mode: "sse", subscribers: 1000 },
          { mode: "long-poll", subscribers: 100 },
        ],
        durationSec: 2,
        rate: 50,
        drainMs: 1000,
        graceSec: 3,
        perProcess: 1000,
      },
      s5: { idleStreams: 2000, idleSubscribers: 1000, perProcess: 1000 },
      s6: { streams: 2000, bulkBytes: 50e6 },
      s7: { ...FANOUT_H2, durationSec: 2, graceSec: 3, drainMs: 1000 },
      s8: { streamBytes: 10e6, readers: 2, encodings: [null, "gzip", "br"], varied: true },
    }
  : {
      s1: { connections: [1, 64, 256], streamCounts: [1, 1000], durationSec: 10, warmupSec: 2 },
      s2: { messages: 200_000, streamCounts: [1, 100], extras: true },
      s3: { streamBytes: 50e6, readers: 100 },
      s4: {
        points: ["sse", "long-poll"].flatMap((mode) => [1, 100, 1000, 5000].map((subscribers) => ({ mode, subscribers }))),
        durationSec: 10,
        rate: 50,
        drainMs: 3000,
        graceSec: 15,
        perProcess: 1000,
      },
      s5: { idleStreams: 10_000, idleSubscribers: 5000, perProcess: 1000 },
      s6: { streams: 10_000, bulkBytes: 1e9 },
      s7: FANOUT_H2,
      s8: { streamBytes: 50e6, readers: 4, encodings: [null, "gzip", "br"], varied: true },
    };

// --report-from=<results.json>: rebuild RESULTS.md and the charts from a saved run, without running anything.
const reportFrom = option("report-from");
if (reportFrom) {
  const saved = JSON.parse(readFileSync(reportFrom, "utf8"));
  P = saved.params;
  const report = buildReport(saved);
  writeSection("suite", report.markdown);
  writeFileSync(join(BENCH_DIR, "append-throughput.svg"), report.throughputSvg);
  writeFileSync(join(BENCH_DIR, "fanout-latency.svg"), report.fanoutSvg);
  console.log(`${report.targetsTable}\nrewrote bench/RESULTS.md and the charts from ${reportFrom}`);
  process.exit(0);
}

const info = machine();
const started = performance.now();
console.log(`Rill benchmark suite${quick ? " (quick)" : ""} — ${info.nproc} cores, ${info.cpuModel}, Node ${info.node}`);
console.log(`servers: ${servers.join(", ")}; scenarios: ${only.join(", ")}`);
if (profileDir) console.log(`CPU profiles → ${profileDir}`);

const fdLimit = Number(info.fdLimit);
const needFds = Math.max(P.s5.idleSubscribers, ...P.s4.points.map((p) => p.subscribers)) + 1000;
if (fdLimit && fdLimit < needFds) {
  console.warn(
    `\nwarning: \`ulimit -n\` is ${fdLimit}, but the fan-out scenarios hold ~${needFds} sockets in the server process; ` +
      `raise it in the spawning shell first (e.g. \`ulimit -n 65536 && npm run bench\`), or expect connection errors.`,
  );
}

const hasRillClient = await rillClientAvailable();
const results = { quick, machine: info, params: P, hasRillClient };

if (only.includes(1)) {
  console.log("\n[1] durable appends: single 256-byte JSON messages, autocannon");
  results.s1 = await scenarios.appends(servers, { ...P.s1, cpuProf });
}
if (only.includes(2)) {
  console.log(`\n[2] idempotent producer: ${fmt(P.s2.messages)} messages of 256 bytes${hasRillClient ? "" : " (@rill/client not ready: raw producer stands in for Rill's client)"}`);
  const own = (name) => (SERVERS[name].impl === "ref" ? "official" : hasRillClient ? "rill" : "raw");
  const impls = (name) => {
    const list = [own(name)];
    if (P.s2.extras) {
      if (!list.includes("official")) list.push("official");
      if (!list.includes("raw")) list.push("raw");
    } else if (!hasRillClient && !list.includes("raw")) list.push("raw");
    return list;
  };
  results.s2 = await scenarios.producers(servers, { ...P.s2, impls, cpuProf });
  results.s2own = Object.fromEntries(servers.map((s) => [s, own(s)]));
}
if (only.includes(3)) {
  console.log(`\n[3] catch-up: ${P.s3.readers} readers replaying a ${fmt(P.s3.streamBytes / 1e6)} MB JSON stream from -1`);
  results.s3 = await scenarios.catchUp(servers, { ...P.s3, cpuProf });
}
if (only.includes(4)) {
  console.log(`\n[4] fan-out: a writer appends ${P.s4.rate} msgs/s for ${P.s4.durationSec} s; delivery latency per subscriber`);
  results.s4 = await scenarios.fanOut(servers, { ...P.s4, cpuProf });
}
if (only.includes(5)) {
  console.log(`\n[5] footprint: ${fmt(P.s5.idleStreams)} idle streams, ${fmt(P.s5.idleSubscribers)} idle SSE subscribers`);
  results.s5 = await scenarios.footprint(servers, { ...P.s5, cpuProf });
}
if (only.includes(6)) {
  const durable = servers.filter((s) => SERVERS[s].durable);
  console.log(`\n[6] restart: ${fmt(P.s6.streams)} streams + ${fmt(P.s6.bulkBytes / 1e6)} MB`);
  results.s6 = await scenarios.restart(durable, { ...P.s6, cpuProf });
}
if (only.includes(7)) {
  console.log(`\n[7] fan-out over HTTP/2 vs HTTP/1.1: ${fmt(P.s7.points[0].subscribers)} SSE readers, Rill SQLite`);
  // The orchestrator talks to the bench's own servers, whose TLS certificates are throwaway self-signed ones.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  results.s7 = await scenarios.fanOut(["rill-sqlite"], { ...P.s7, cpuProf });
}
if (only.includes(8)) {
  console.log(`\n[8] compressed catch-up: ${P.s8.readers} readers, a ${fmt(P.s8.streamBytes / 1e6)} MB JSON stream, Accept-Encoding none/gzip/br`);
  results.s8 = await scenarios.catchUp(["rill-sqlite"], { ...P.s8, cpuProf });
}
results.seconds = (performance.now() - started) / 1000;
results.loadAtEnd = loadavg();
console.log(`\ndone in ${fmt(results.seconds)} s`);

if ((results.s7 || results.s8) && !flag("no-write")) {
  writeSection("http2", http2Report(results, P));
  console.log("wrote the HTTP/2 and compression section of bench/RESULTS.md");
}
const report = buildReport(results);
console.log(`\n${report.targetsTable}`);
if (write) {
  writeSection("suite", report.markdown);
  writeFileSync(join(BENCH_DIR, "append-throughput.svg"), report.throughputSvg);
  writeFileSync(join(BENCH_DIR, "fanout-latency.svg"), report.fanoutSvg);
  writeJson(quick ? "results/suite-quick.json" : "results/suite.json", results);
  console.log("wrote bench/RESULTS.md, bench/append-throughput.svg, bench/fanout-latency.svg");
} else {
  const file = join(tmpdir(), `rill-bench-partial-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`partial run: RESULTS.md left alone; raw results in ${file}`);
}
if (profileDir) console.log(`CPU profiles in ${profileDir} (open in Chrome DevTools or speedscope)`);
process.exit(0);

// ─── report ─────────────────────────────────────────────────────────────────

function buildReport(r) {
  const COLORS = { "rill-sqlite": "#d62728", "rill-memory": "#ff7f0e", "ref-memory": "#1f77b4", "ref-file": "#2ca02c" };
  const names = Object.keys(SERVERS).filter((s) => servers.includes(s));
  const label = (s) => SERVERS[s].label;
  const md = [];
  const targets = [];
  const target = (what, measured, met, note = "") => targets.push([what, measured, met === null ? "n/a" : met ? "**met**" : "**not met**", note]);

  md.push(`## Benchmark suite${r.quick ? " — quick run (`npm run bench -- --quick`)" : " — full run (`npm run bench`)"}`);
  md.push("", machineMarkdown(r.machine, r.loadAtEnd), "", `Run time: ${fmt(r.seconds)} s.`);
  if (r.quick) md.push("", "**Quick run**: shorter durations and smaller sizes than issue 6 asks for (see each scenario); the targets are judged on these smaller runs and are only indicative.");

  // Scenario 1
  let s1md = [];
  if (r.s1) {
    const get = (server, streams, conns) => r.s1.find((x) => x.server === server && x.streams === streams && x.connections === conns);
    const rows = [];
    for (const streams of P.s1.streamCounts) {
      for (const conns of P.s1.connections) {
        const cell = (s) => {
          const x = get(s, streams, conns);
          if (!x) return r.s1.some((f) => f.server === s && f.streams === streams && f.error) ? "failed (see below)" : "–";
          const errors = x.non2xx || x.errors ? ` ⚠ ${fmt(x.non2xx + x.errors)} failed` : "";
          return `${fmt(x.appendsPerSec)} (${sig(x.latency?.p50)} / ${sig(x.latency?.p99)} ms)${errors}`;
        };
        const rs = get("rill-sqlite", streams, conns)?.appendsPerSec;
        rows.push([
          `${streams} stream${streams > 1 ? "s" : ""}, ${conns} conn${conns > 1 ? "s" : ""}`,
          ...names.map(cell),
          fmtRatio(ratio(rs, get("ref-memory", streams, conns)?.appendsPerSec)),
          fmtRatio(ratio(rs, get("ref-file", streams, conns)?.appendsPerSec)),
        ]);
        if (conns === 64) {
          const rFile = ratio(rs, get("ref-file", streams, conns)?.appendsPerSec);
          const rMem = ratio(rs, get("ref-memory", streams, conns)?.appendsPerSec);
          target(`S1 64 conns, ${streams} stream(s): Rill SQLite ≥ 20× reference file`, fmtRatio(rFile), rFile === null ? null : rFile >= 20);
          target(`S1 64 conns, ${streams} stream(s): Rill SQLite ≥ 0.8× reference memory`, fmtRatio(rMem), rMem === null ? null : rMem >= 0.8);
        }
      }
    }
    const failures = r.s1.filter((x) => x.non2xx > 0);
    s1md = [
      `### 1. Durable appends`,
      "",
      `Each connection POSTs one 256-byte JSON message at a time (autocannon, keep-alive), ${P.s1.durationSec} s per cell after a ${P.s1.warmupSec} s warm-up; ` +
        `with 1,000 streams the requests go round-robin over the streams. Cells: appends/s (p50 / p99 latency). Only 2xx answers count.`,
      "",
      table(["load", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
    if (failures.length) {
      s1md.push(
        "",
        "Failed appends (non-2xx answers): " +
          failures.map((x) => `${label(x.server)} ${x.streams} streams/${x.connections} conns: ${fmt(x.non2xx)} (${Object.entries(x.non2xxStatuses ?? {}).map(([k, v]) => `${k}×${v}`).join(", ")})`).join("; ") +
          ".",
      );
    }
  }

  // Scenario 2
  let s2md = [];
  if (r.s2) {
    const get = (server, impl, streams) => r.s2.find((x) => x.server === server && x.impl === impl && x.streams === streams);
    const cell = (x) => (!x ? "–" : x.error ? "failed (see below)" : `${fmt(x.msgsPerSec)} (${sig(x.seconds)} s)`);
    const rows = [];
    for (const streams of P.s2.streamCounts) {
      const own = (s) => get(s, r.s2own[s], streams);
      const rs = own("rill-sqlite")?.msgsPerSec;
      rows.push([`own client, ${streams} stream${streams > 1 ? "s" : ""}`, ...names.map((s) => cell(own(s))), fmtRatio(ratio(rs, own("ref-memory")?.msgsPerSec)), fmtRatio(ratio(rs, own("ref-file")?.msgsPerSec))]);
      const rMem = ratio(rs, own("ref-memory")?.msgsPerSec);
      target(`S2 producer, ${streams} stream(s): Rill SQLite ≥ 1.0× reference memory`, fmtRatio(rMem), rMem === null ? null : rMem >= 1.0, r.s2own["rill-sqlite"] === "raw" ? "raw producer for both (Rill client not ready)" : "");
      for (const impl of ["official", "raw", "rill"]) {
        const anyRow = names.some((s) => get(s, impl, streams) && r.s2own[s] !== impl);
        if (!anyRow) continue;
        const x = (s) => get(s, impl, streams);
        rows.push([`${impl} client, ${streams} stream${streams > 1 ? "s" : ""}`, ...names.map((s) => cell(x(s))), fmtRatio(ratio(x("rill-sqlite")?.msgsPerSec, x("ref-memory")?.msgsPerSec)), fmtRatio(ratio(x("rill-sqlite")?.msgsPerSec, x("ref-file")?.msgsPerSec))]);
      }
    }
    const ownNote = r.hasRillClient
      ? "\"own client\" is `@rill/client`'s IdempotentProducer for Rill and `@durable-streams/client@0.2.7`'s for the reference."
      : "**`@rill/client` did not export `IdempotentProducer` at run time**, so \"own client\" for Rill is the minimal raw producer (`bench/gen/producer.mjs`: 1 MB JSON-array batches, Producer-Id/Epoch/Seq headers, 5 batches pipelined on one connection); the reference uses `@durable-streams/client@0.2.7`. The \"raw client\" rows run that same raw producer against every server.";
    s2md = [
      `### 2. Idempotent producer throughput`,
      "",
      `${fmt(P.s2.messages)} JSON messages of 256 bytes in total, appended as fast as the producer accepts them, then flushed; with 100 streams one producer per stream, all at once ` +
        `(maxBatchBytes 1 MB, maxInFlight 5, lingerMs 5). Every run is verified afterwards by reading the streams back and counting the messages. Cells: messages/s (total time). ${ownNote}`,
      "",
      table(["producer", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
  }

  // Scenario 3
  let s3md = [];
  if (r.s3) {
    const get = (s) => r.s3.find((x) => x.server === s);
    const metric = (title, pick, digits = 1, lowerBetter = false) => {
      const rs = pick(get("rill-sqlite"));
      return [title, ...names.map((s) => (get(s) ? fmt(pick(get(s)), digits) : "–")), fmtRatio(ratio(rs, pick(get("ref-memory")) ?? NaN)), fmtRatio(ratio(rs, pick(get("ref-file")) ?? NaN))].concat(lowerBetter ? [] : []);
    };
    const rows = [
      metric("aggregate MB/s", (x) => x?.aggregateMBps),
      metric("median reader MB/s", (x) => x?.readerMBpsMedian, 2),
      metric("time to first byte p50 (ms)", (x) => x?.ttfb?.p50),
      metric("time to first byte p99 (ms)", (x) => x?.ttfb?.p99),
      metric("all readers done (s)", (x) => x?.seconds, 2),
      metric("requests per reader", (x) => x?.requestsPerReader, 0),
    ];
    const rFile = ratio(get("rill-sqlite")?.aggregateMBps, get("ref-file")?.aggregateMBps);
    target("S3 catch-up: Rill SQLite ≥ 1.5× reference file (aggregate MB/s)", fmtRatio(rFile), rFile === null ? null : rFile >= 1.5);
    s3md = [
      `### 3. Catch-up reads`,
      "",
      `${P.s3.readers} concurrent readers (one keep-alive connection each) replay a ${fmt((r.s3[0]?.streamBytes ?? P.s3.streamBytes) / 1e6, 1)} MB JSON stream ` +
        `(256-byte messages) from \`-1\`, following \`Stream-Next-Offset\` until \`Stream-Up-To-Date\`. Ratios are Rill SQLite ÷ reference (for times, lower is better).`,
      "",
      table(["metric", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
  }

  // Scenario 4
  let s4md = [];
  /**
   * p99 over every scheduled delivery (appends × subscribers). Deliveries that never happened
   * waited at least the grace period (append never acknowledged) or the drain period (acknowledged,
   * not delivered); when more than 1% are missing the p99 is only known as a lower bound.
   */
  const p99Of = (x) => {
    if (!x || x.error || !x.latency || x.latency.p99 === null) return null;
    const ideal = x.scheduled * x.subscribers;
    const missing = Math.max(0, ideal - x.delivered);
    const unacknowledged = (x.scheduled - x.acknowledged) * x.subscribers;
    if (missing / ideal <= 0.01) return { value: x.latency.p99, censored: false };
    const bound = unacknowledged / ideal > 0.01 ? P.s4.graceSec * 1000 : P.s4.drainMs;
    return { value: Math.max(x.latency.p99, bound), censored: true, missingPct: (100 * missing) / ideal };
  };
  const boundedRatio = (a, b) => {
    const none = { text: "–", atMost: () => null, note: "" };
    if (!a || !b) return none;
    const value = a.value / b.value;
    if (!a.censored && !b.censored) return { text: fmtRatio(value), atMost: (limit) => value <= limit, note: "" };
    if (!a.censored && b.censored) {
      return {
        text: `≤ ${fmtRatio(value)}`,
        atMost: (limit) => (value <= limit ? true : null),
        note: `the reference did not deliver ${fmt(b.missingPct, 0)}% of the messages in time: its p99 is a lower bound`,
      };
    }
    if (a.censored && !b.censored) {
      return { text: `≥ ${fmtRatio(value)}`, atMost: (limit) => (value > limit ? false : null), note: `Rill did not deliver ${fmt(a.missingPct, 0)}% of the messages in time` };
    }
    return { text: "both incomplete", atMost: () => null, note: "neither server delivered every message in time" };
  };
  if (r.s4) {
    const get = (s, mode, n) => r.s4.find((x) => x.server === s && x.mode === mode && x.subscribers === n);
    const rows = [];
    for (const { mode, subscribers } of P.s4.points) {
      const cell = (s) => {
        const x = get(s, mode, subscribers);
        if (!x) return "–";
        if (x.error) return "failed (see below)";
        const notes = [];
        if (x.acknowledged < x.scheduled) notes.push(`only ${fmt(x.acknowledged)}/${fmt(x.scheduled)} appends acknowledged in time`);
        if (x.deliveredPct !== null && x.deliveredPct < 99.99) notes.push(`${fmt(x.deliveredPct, 1)}% delivered`);
        if (x.duplicates) notes.push(`${fmt(x.duplicates)} duplicates`);
        return `${sig(x.latency?.p50)} / ${sig(x.latency?.p99)} / ${sig(x.latency?.max)}${notes.length ? ` ⚠ ${notes.join(", ")}` : ""}`;
      };
      const rs = p99Of(get("rill-sqlite", mode, subscribers));
      const rm = boundedRatio(rs, p99Of(get("ref-memory", mode, subscribers)));
      const rf = boundedRatio(rs, p99Of(get("ref-file", mode, subscribers)));
      rows.push([`${mode}, ${fmt(subscribers)} subs`, ...names.map(cell), rm.text, rf.text]);
      if (mode === "sse" && subscribers === 1000) {
        target("S4 SSE 1,000 subs: Rill SQLite p99 ≤ 1/3 of reference memory", rm.text, rm.atMost(1 / 3), rm.note);
        target("S4 SSE 1,000 subs: Rill SQLite p99 ≤ 1/3 of reference file", rf.text, rf.atMost(1 / 3), rf.note);
      }
      if (mode === "sse" && subscribers === 5000) {
        target("S4 SSE 5,000 subs: Rill SQLite p99 < 100 ms", rs ? `${rs.censored ? "≥ " : ""}${sig(rs.value)} ms` : "–", rs ? rs.value < 100 && !rs.censored : null);
      }
    }
    if (!P.s4.points.some((p) => p.mode === "sse" && p.subscribers === 5000)) target("S4 SSE 5,000 subs: Rill SQLite p99 < 100 ms", "not run", null, "quick run stops at 1,000");
    const cpuRows = P.s4.points.map(({ mode, subscribers }) => [
      `${mode}, ${fmt(subscribers)} subs`,
      ...names.map((s) => {
        const x = get(s, mode, subscribers);
        return x && !x.error ? `${fmt(x.serverCores, 2)} / ${fmt(x.subscriberCores, 2)}${x.serverCpuWait !== undefined ? ` (${fmt(100 * x.serverCpuWait, 0)}%)` : ""}` : "–";
      }),
    ]);
    s4md = [
      `### 4. Fan-out`,
      "",
      `One JSON stream; the subscribers connect first (from the tail offset, spread over generator processes of at most ${fmt(P.s4.perProcess)} subscribers each), ` +
        `then a writer process appends ${P.s4.rate} messages/s for ${P.s4.durationSec} s, each carrying its send time; a subscriber records now − send time for every ` +
        `message it receives (so the figure includes the durable append itself). Appends still unanswered ${P.s4.graceSec} s after the schedule ends are abandoned, ` +
        `and the subscribers are read once every acknowledged message has been delivered, or deliveries have stalled for ${fmt(P.s4.drainMs)} ms, or ${P.s4.graceSec} s have passed: a ⚠ marks cells where not every scheduled append was acknowledged or not every acknowledged one was delivered (latency figures then cover the delivered messages only). SSE subscribers parse \`event: data\` / \`event: control\` frames; long-poll subscribers loop ` +
        `\`GET ?offset=<o>&live=long-poll\` following \`Stream-Next-Offset\`. Cells: p50 / p99 / max delivery latency in ms. Ratios: Rill SQLite p99 ÷ reference p99 (lower is better); ` +
        `where more than 1% of the deliveries never happened, that server's p99 counts as at least the grace (or drain) period, and the ratio is shown as a bound (≤ / ≥).`,
      "",
      table(["subscribers", ...names.map(label), "Rill SQLite ÷ ref memory (p99)", "Rill SQLite ÷ ref file (p99)"], rows),
      "",
      "CPU used during the write phase, in cores (server / all subscriber processes; the machine has " + r.machine.nproc + "), and in parentheses the share of the phase the server's main thread was runnable but waiting for a CPU (from /proc/<pid>/schedstat: high values mean the server was starved by the generators or other work):",
      "",
      table(["subscribers", ...names.map(label)], cpuRows),
    ];
  }

  // Scenario 5
  let s5md = [];
  if (r.s5) {
    const get = (s) => r.s5.find((x) => x.server === s);
    const metric = (title, pick, digits = 0) => [title, ...names.map((s) => (get(s) ? fmt(pick(get(s)), digits) : "–")), fmtRatio(ratio(pick(get("rill-sqlite") ?? {}), pick(get("ref-memory") ?? {}))), fmtRatio(ratio(pick(get("rill-sqlite") ?? {}), pick(get("ref-file") ?? {})))];
    const rows = [
      metric("baseline RSS (MB)", (x) => x.baseRss / 1e6, 1),
      metric(`RSS with ${fmt(P.s5.idleStreams)} idle streams (MB)`, (x) => x.streamsRss / 1e6, 1),
      metric("per idle stream (bytes of RSS)", (x) => x.perStreamBytes),
      metric("per idle stream (bytes of JS heap)", (x) => x.perStreamHeapBytes),
      metric("stream creation (streams/s, 32 in flight)", (x) => x.createPerSec),
      metric(`RSS with ${fmt(P.s5.idleSubscribers)} idle SSE subscribers (MB)`, (x) => x.subsRss / 1e6, 1),
      metric("per SSE subscriber (bytes of RSS)", (x) => x.perSubscriberBytes),
      metric("per SSE subscriber (bytes of JS heap)", (x) => x.perSubscriberHeapBytes),
    ];
    const perSub = ratio(get("rill-sqlite")?.perSubscriberBytes, get("ref-memory")?.perSubscriberBytes);
    const perStream = ratio(get("rill-sqlite")?.perStreamBytes, get("ref-memory")?.perStreamBytes);
    target("S5 per SSE subscriber: Rill SQLite ≤ 1/2 reference memory", fmtRatio(perSub), perSub === null ? null : perSub <= 0.5);
    target("S5 per idle stream: Rill SQLite ≤ 1/2 reference memory", fmtRatio(perStream), perStream === null ? null : perStream <= 0.5);
    s5md = [
      `### 5. Footprint`,
      "",
      `RSS (VmRSS from /proc) of the server process after two forced GCs (the launcher runs with \`--expose-gc\`), over a fresh server's baseline. ` +
        `Idle streams: ${fmt(P.s5.idleStreams)} empty JSON streams created by PUT, 32 in flight (the creation rate is measured there). ` +
        `Idle subscribers: ${fmt(P.s5.idleSubscribers)} SSE connections to one stream, on a second fresh server. Ratios: Rill SQLite ÷ reference (lower is better).`,
      "",
      table(["metric", ...names.map(label), "Rill SQLite ÷ ref memory", "Rill SQLite ÷ ref file"], rows),
    ];
  }

  // Scenario 6
  let s6md = [];
  if (r.s6) {
    const get = (s) => r.s6.find((x) => x.server === s);
    const durable = names.filter((s) => SERVERS[s].durable);
    const metric = (title, pick, digits = 0) => [title, ...durable.map((s) => (get(s) ? fmt(pick(get(s)), digits) : "–")), fmtRatio(ratio(pick(get("rill-sqlite") ?? {}), pick(get("ref-file") ?? {})))];
    const rows = [
      metric("data on disk (MB)", (x) => x.onDiskBytes / 1e6, 1),
      metric("spawn → listening (ms)", (x) => x.readyMs),
      metric("of which Node boot + loading the server code (ms)", (x) => x.bootMs),
      metric("opening the store and listening (ms)", (x) => x.openMs),
      metric("spawn → first read answered (ms)", (x) => x.firstReadMs),
      metric("RSS after start (MB)", (x) => x.rssAfterStart / 1e6, 1),
    ];
    s6md = [
      `### 6. Restart`,
      "",
      `A data directory with ${fmt(P.s6.streams)} streams (created empty) plus ${fmt(P.s6.bulkBytes / 1e6)} MB in one octet-stream (4 MB appends) — ` +
        `issue 6 asks for 10 GB; this run uses ${fmt(P.s6.bulkBytes / 1e6)} MB to fit the run time and disk. The server is stopped gracefully, then started again on the same ` +
        `directory; "first read" is a full read of the last stream created. Memory modes have nothing to restart from and are not run. Ratio: Rill SQLite ÷ reference file (lower is better).`,
      "",
      table(["metric", ...durable.map(label), "Rill SQLite ÷ ref file"], rows),
    ];
  }

  const targetsTable = table(["target (issue 6)", "measured", "status", "note"], targets);
  md.push("", "### Targets", "", targetsTable);
  for (const section of [s1md, s2md, s3md, s4md, s5md, s6md]) if (section.length) md.push("", ...section);
  const failures = ["s1", "s2", "s3", "s4", "s5", "s6"].flatMap((key) =>
    (r[key] ?? []).filter((x) => x.error).map((x) => `- scenario ${key.slice(1)}, ${label(x.server)}${x.streams ? `, ${x.streams} stream(s)` : ""}${x.impl ? `, ${x.impl} client` : ""}${x.mode ? `, ${x.mode} ${x.subscribers} subs` : ""}: ${x.error}`),
  );
  if (failures.length) md.push("", "### Failed cells", "", ...failures);
  md.push("", "### Charts", "", "![Append throughput vs connections](append-throughput.svg)", "", "![Fan-out delivery latency vs subscribers](fanout-latency.svg)");
  md.push("", "### Limitations of this harness", "", ...limitations(r));

  // Charts
  const throughputSvg = lineChart({
    title: "Append throughput vs connections",
    subtitle: `single 256-byte JSON appends; solid: 1 stream, dashed: 1,000 streams${r.quick ? " (quick run)" : ""}`,
    xLabel: "concurrent connections",
    yLabel: "appends/s",
    log: true,
    xValues: P.s1.connections,
    series: (r.s1 ? names : []).flatMap((s) =>
      P.s1.streamCounts.map((streams) => ({
        name: `${label(s)}, ${streams} stream${streams > 1 ? "s" : ""}`,
        color: COLORS[s],
        dash: streams > 1 ? "6 4" : undefined,
        values: P.s1.connections.map((c) => r.s1.find((x) => x.server === s && x.streams === streams && x.connections === c)?.appendsPerSec ?? null),
      })),
    ),
  });
  const subsAxis = [...new Set(P.s4.points.map((p) => p.subscribers))].sort((a, b) => a - b);
  const fanoutSvg = lineChart({
    title: "Fan-out delivery latency (p99) vs subscribers",
    subtitle: `writer at ${P.s4.rate} msgs/s; p99 of the delivered messages; solid: SSE, dashed: long-poll${r.quick ? " (quick run)" : ""}`,
    xLabel: "subscribers on one stream",
    yLabel: "p99 delivery latency (ms)",
    log: true,
    xValues: subsAxis.map((n) => fmt(n)),
    series: (r.s4 ? names : []).flatMap((s) =>
      ["sse", "long-poll"]
        .filter((mode) => P.s4.points.some((p) => p.mode === mode))
        .map((mode) => ({
          name: `${label(s)}, ${mode}`,
          color: COLORS[s],
          dash: mode === "long-poll" ? "6 4" : undefined,
          values: subsAxis.map((n) => r.s4.find((x) => x.server === s && x.mode === mode && x.subscribers === n)?.latency?.p99 ?? null),
        })),
    ),
  });
  return { markdown: md.join("\n"), targetsTable, throughputSvg, fanoutSvg };
}
