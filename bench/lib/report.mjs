// Machine description, number formatting, markdown tables, and the section
// writer for bench/RESULTS.md (each orchestrator owns one marked section).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { BENCH_DIR } from "./processes.mjs";

export function machine() {
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    // keep os.cpus()
  }
  let model = cpus()[0]?.model ?? "unknown";
  try {
    const match = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match) model = match[1].trim();
  } catch {
    // keep os.cpus()
  }
  let free = null;
  try {
    free = execFileSync("free", ["-m"], { encoding: "utf8" }).trimEnd();
  } catch {
    // not available
  }
  let fdLimit = null;
  try {
    fdLimit = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
  } catch {
    // not available
  }
  return {
    date: new Date().toISOString(),
    nproc,
    cpuModel: model,
    memoryGiB: totalmem() / 2 ** 30,
    free,
    node: process.version,
    loadAverage: loadavg(),
    fdLimit,
  };
}

export function machineMarkdown(m, loadAtEnd) {
  const lines = [
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (\`nproc\`), ${m.cpuModel}, ${m.memoryGiB.toFixed(1)} GiB RAM; Node ${m.node}; \`ulimit -n\` ${m.fdLimit}`,
    `- Load average at start: ${m.loadAverage.map((v) => v.toFixed(2)).join(", ")}` +
      (loadAtEnd ? `; at end: ${loadAtEnd.map((v) => v.toFixed(2)).join(", ")}` : "") +
      (m.loadAverage[0] > m.nproc * 0.5 ? " — **the machine was busy: treat the figures as noisy**" : ""),
  ];
  if (m.free) lines.push("", "```", `$ free -m`, m.free, "```");
  return lines.join("\n");
}

export function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n) || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Significant-figure formatting for latencies and rates of very different sizes. */
export function sig(n) {
  if (n === null || n === undefined || Number.isNaN(n) || !Number.isFinite(n)) return "–";
  if (Math.abs(n) >= 1000) return fmt(n, 0);
  if (Math.abs(n) >= 100) return fmt(n, 0);
  if (Math.abs(n) >= 10) return fmt(n, 1);
  return fmt(n, 2);
}

export function ratio(a, b) {
  if (typeof a !== "number" || typeof b !== "number" || !(b > 0) || !Number.isFinite(a)) return null;
  return a / b;
}

export function fmtRatio(r) {
  if (r === null || r === undefined) return "–";
  return `${r >= 10 ? fmt(r, 1) : fmt(r, 2)}×`;
}

export function table(headers, rows) {
  const out = [`| ${headers.join(" | ")} |`, `|${headers.map((h, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`];
  for (const row of rows) out.push(`| ${row.map((cell) => (cell === null || cell === undefined ? "–" : String(cell))).join(" | ")} |`);
  return out.join("\n");
}

export const RESULTS_PATH = join(BENCH_DIR, "RESULTS.md");

const HEADER = `# Rill benchmark results

Written by the benchmark scripts — do not edit by hand; rerun them instead.

- \`npm run bench:append\` — the first side-by-side append benchmark (issue 2): section "Append benchmark".
- \`npm run bench\` (\`npm run bench -- --quick\` for a ~3-minute subset) — every scenario of issue 6:
  section "Benchmark suite".

Each server runs in its own process (\`bench/lib/server-process.mjs\`); load generators run in their own processes
(\`bench/gen/\`, autocannon and undici), all on 127.0.0.1 on the same machine. "Reference" is
\`@durable-streams/server@0.3.7\` (\`DurableStreamTestServer\`; file mode = \`dataDir\` in a temp dir, memory mode =
no \`dataDir\`). "Rill SQLite" is Rill's durable default store (WAL, \`synchronous=FULL\`, group commit).
`;

/** Replaces (or appends) the section between `<!-- name:start -->` and `<!-- name:end -->`. */
export function writeSection(name, markdown) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  let text = existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, "utf8") : HEADER;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(RESULTS_PATH, text);
}

export function writeJson(file, data) {
  writeFileSync(join(BENCH_DIR, file), `${JSON.stringify(data, null, 2)}\n`);
}
