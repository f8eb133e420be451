#!/usr/bin/env node
// The benchmark suite (issues 6 and 13): every scenario against Rill (SQLite and memory) and
// the reference server (memory and file mode), in one run, with the same generators; append
// scenarios also run a bare node:http ceiling, and scenario 7 Rill's PostgreSQL store.
//
//   npm run bench                      full run (~30-35 min on 2 cores)
//   npm run bench -- --quick           ~5-minute subset
//   options: --only=1,4   run only these scenarios (does not rewrite the suite section of RESULTS.md;
//                         scenarios 8 and 9 — HTTP/2 fan-out, compressed catch-up — write their own section)
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
import { fmt, machine, writeJson, writeSection } from "./lib/report.mjs";
import { http2Report } from "./lib/report-http2.mjs";
import { buildReport } from "./lib/report-suite.mjs";
import { postgresAppends } from "./lib/scenario-postgres.mjs";
import * as scenarios from "./lib/scenarios.mjs";

installCleanup();

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const quick = flag("quick");
const only = option("only")?.split(",").map(Number) ?? [1, 2, 3, 4, 5, 6, 7, 8, 9];
const servers = option("servers")?.split(",") ?? Object.keys(SERVERS);
for (const s of servers) if (!SERVERS[s]) throw new Error(`unknown server ${s}; known: ${Object.keys(SERVERS).join(", ")}`);
const complete = [1, 2, 3, 4, 5, 6, 7].every((n) => only.includes(n)) && servers.length === Object.keys(SERVERS).length;
const write = complete && !flag("no-write");
const profileDir = flag("profile") ? mkdtempSync(join(tmpdir(), "rill-bench-profiles-")) : null;
const cpuProf = profileDir ? () => profileDir : undefined;

// Scenario 8: the same 1,000 SSE readers over HTTP/1.1 (cleartext and TLS) and multiplexed over HTTP/2.
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
      s7: { connections: 64, streamCounts: [1, 100], serverCounts: [1, 3], durationSec: 2, warmupSec: 0.5 },
      s8: { ...FANOUT_H2, durationSec: 2, graceSec: 3, drainMs: 1000 },
      s9: { streamBytes: 10e6, readers: 2, encodings: [null, "gzip", "br"], varied: true },
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
      s7: { connections: 64, streamCounts: [1, 100], serverCounts: [1, 3], durationSec: 10, warmupSec: 2 },
      s8: FANOUT_H2,
      s9: { streamBytes: 50e6, readers: 4, encodings: [null, "gzip", "br"], varied: true },
    };

// --report-from=<results.json>: rebuild RESULTS.md and the charts from a saved run, without running anything.
const reportFrom = option("report-from");
if (reportFrom) {
  const saved = JSON.parse(readFileSync(reportFrom, "utf8"));
  P = saved.params;
  const report = buildReport(saved, P, servers);
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
  // The ceiling runs first, so every append row can be read as a share of it.
  results.s1 = await scenarios.appends(["ceiling", ...servers], { ...P.s1, cpuProf });
}
if (only.includes(2)) {
  console.log(`\n[2] idempotent producer: ${fmt(P.s2.messages)} messages of 256 bytes${hasRillClient ? "" : " (@rill/client not ready: raw producer stands in for Rill's client)"}`);
  const own = (name) => (SERVERS[name].impl === "ref" ? "official" : hasRillClient ? "rill" : "raw");
  const impls = (name) => {
    const list = [own(name)];
    // The official client runs on every server: issue 13 compares it on Rill with it on the reference.
    if (!list.includes("official")) list.push("official");
    if (P.s2.extras) {
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
  console.log(`\n[7] PostgreSQL store: single appends, ${P.s7.connections} connections, through 1 and 3 servers on one database, vs the SQLite store`);
  results.s7 = await postgresAppends({ ...P.s7, cpuProf });
}
if (only.includes(8)) {
  console.log(`\n[8] fan-out over HTTP/2 vs HTTP/1.1: ${fmt(P.s8.points[0].subscribers)} SSE readers, Rill SQLite`);
  // The orchestrator talks to the bench's own servers, whose TLS certificates are throwaway self-signed ones.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  results.s8 = await scenarios.fanOut(["rill-sqlite"], { ...P.s8, cpuProf });
}
if (only.includes(9)) {
  console.log(`\n[9] compressed catch-up: ${P.s9.readers} readers, a ${fmt(P.s9.streamBytes / 1e6)} MB JSON stream, Accept-Encoding none/gzip/br`);
  results.s9 = await scenarios.catchUp(["rill-sqlite"], { ...P.s9, cpuProf });
}
results.seconds = (performance.now() - started) / 1000;
results.loadAtEnd = loadavg();
console.log(`\ndone in ${fmt(results.seconds)} s`);

if ((results.s8 || results.s9) && !flag("no-write")) {
  writeSection("http2", http2Report(results, P));
  console.log("wrote the HTTP/2 and compression section of bench/RESULTS.md");
}
const report = buildReport(results, P, servers);
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

