#!/usr/bin/env node
// The first side-by-side append benchmark (issue 2): the reference server in file mode
// vs Rill on SQLite, both durable, in one run.
//   1. 50 keep-alive connections each POSTing single ~256-byte JSON messages to one
//      stream for N seconds (autocannon) → appends/s, p50/p99 latency, ratio.
//   2. 100k messages through each project's own IdempotentProducer → time, msgs/s, ratio.
//
//   npm run bench:append [-- --duration=10 --messages=100000 --connections=50]
import { SERVERS } from "./lib/common.mjs";
import { rillClientAvailable } from "./lib/client-check.mjs";
import { installCleanup } from "./lib/processes.mjs";
import { fmt, fmtRatio, machine, machineMarkdown, ratio, sig, table, writeJson, writeSection } from "./lib/report.mjs";
import * as scenarios from "./lib/scenarios.mjs";

installCleanup();
const argv = process.argv.slice(2);
const option = (name, fallback) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const durationSec = option("duration", 10);
const messages = option("messages", 100_000);
const connections = option("connections", 50);
const servers = ["ref-file", "rill-sqlite"];

const info = machine();
console.log(`Append benchmark — reference file mode vs Rill SQLite — ${info.nproc} cores, ${info.cpuModel}, Node ${info.node}`);
const hasRillClient = await rillClientAvailable();

console.log(`\n${connections} connections POSTing single 256-byte JSON messages to one stream for ${durationSec} s`);
const load = await scenarios.appends(servers, { connections: [connections], streamCounts: [1], durationSec, warmupSec: 1 });

const rillImpl = hasRillClient ? "rill" : "raw";
console.log(`\n${fmt(messages)} messages through an idempotent producer${hasRillClient ? "" : " (@rill/client not ready: raw producer for both)"}`);
const produced = await scenarios.producers(servers, {
  messages,
  streamCounts: [1],
  impls: (name) => [SERVERS[name].impl === "ref" ? (hasRillClient ? "official" : "raw") : rillImpl],
});

const ref = load.find((x) => x.server === "ref-file");
const rill = load.find((x) => x.server === "rill-sqlite");
const refP = produced.find((x) => x.server === "ref-file");
const rillP = produced.find((x) => x.server === "rill-sqlite");
const loadRatio = ratio(rill?.appendsPerSec, ref?.appendsPerSec);
const producerRatio = ratio(rillP?.msgsPerSec, refP?.msgsPerSec);
const loadCell = (x) => (x ? `${fmt(x.appendsPerSec)} appends/s, p50 ${sig(x.latency.p50)} ms, p99 ${sig(x.latency.p99)} ms${x.non2xx ? `, ${fmt(x.non2xx)} failed` : ""}` : "–");
const producerCell = (x) => (!x ? "–" : x.error ? `failed: ${x.error.slice(0, 100)}` : `${fmt(x.seconds, 2)} s, ${fmt(x.msgsPerSec)} msgs/s`);
const rows = [
  [`${connections} connections × single appends, ${durationSec} s`, loadCell(ref), loadCell(rill), fmtRatio(loadRatio)],
  [`${fmt(messages)} messages, idempotent producer`, producerCell(refP), producerCell(rillP), fmtRatio(producerRatio)],
];
const summary = table(["benchmark", "Reference file mode", "Rill SQLite (durable)", "Rill ÷ reference"], rows);
console.log(`\n${summary}`);
console.log(`\ntarget (issue 2): Rill durable ≥ 20× the reference's file mode on single appends — ${loadRatio === null ? "n/a" : loadRatio >= 20 ? "met" : "NOT met"} (${fmtRatio(loadRatio)})`);

const producerNote = hasRillClient
  ? "The producer is each project's own `IdempotentProducer` (`@durable-streams/client@0.2.7` for the reference, `@rill/client` for Rill), one stream, defaults of the official client (1 MB batches, 5 in flight, linger 5 ms); the messages are read back and counted afterwards."
  : "**`@rill/client` was not ready**: both servers got the same minimal raw-HTTP producer (`bench/gen/producer.mjs`: 1 MB JSON-array batches with Producer-Id/Epoch/Seq headers, 5 pipelined); the messages are read back and counted afterwards.";
writeSection(
  "append",
  [
    "## Append benchmark (`npm run bench:append`)",
    "",
    machineMarkdown(info),
    "",
    `Reference \`@durable-streams/server@0.3.7\` in file mode (\`dataDir\` in a temp dir) vs Rill on SQLite (WAL, \`synchronous=FULL\`, group commit): both acknowledge an append only once it is on disk. ` +
      `Single appends: ${connections} keep-alive connections (autocannon) each POSTing one 256-byte JSON object at a time to one stream, ${durationSec} s after a 1 s warm-up. ${producerNote}`,
    "",
    summary,
    "",
    `Target (issue 2): Rill durable ≥ 20× the reference's file mode on single appends: **${loadRatio === null ? "n/a" : loadRatio >= 20 ? "met" : "not met"}** (${fmtRatio(loadRatio)}).`,
    info.loadAverage[0] > info.nproc * 0.5 ? "\nThe machine was busy during this run (see the load average): the figures are noisy." : "",
  ].join("\n"),
);
writeJson("results/append.json", { machine: info, durationSec, connections, messages, hasRillClient, load, produced });
console.log("wrote bench/RESULTS.md (section \"Append benchmark\") and bench/results/append.json");
process.exit(0);
