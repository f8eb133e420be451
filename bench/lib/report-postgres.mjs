// Scenario 7's part of the suite report: the PostgreSQL store next to the SQLite store.
import { fmt, fmtRatio, ratio, sig, table } from "./report.mjs";

/** Markdown lines for scenario 7; records its targets through `target(what, measured, met)`. */
export function postgresSection(rows, params, target) {
  const sqliteRate = (streams) => rows.find((x) => x.store === "sqlite" && x.streams === streams && !x.error)?.appendsPerSec;
  const lines = rows.map((x) => {
    const where = `${x.store === "sqlite" ? "SQLite" : "PostgreSQL"}, ${x.servers} server${x.servers > 1 ? "s" : ""}, ${fmt(x.streams)} stream${x.streams > 1 ? "s" : ""}`;
    if (x.error) return [where, `failed: ${x.error}`, "–", "–"];
    const share = x.store === "postgres" ? ratio(x.appendsPerSec, sqliteRate(x.streams)) : null;
    if (x.store === "postgres") {
      target(`S7 PostgreSQL, ${x.servers} server${x.servers > 1 ? "s" : ""}, ${fmt(x.streams)} stream${x.streams > 1 ? "s" : ""}: ≥ 0.5× SQLite`, fmtRatio(share), share === null ? null : share >= 0.5);
    }
    const failed = x.non2xx || x.errors ? ` ⚠ ${fmt(x.non2xx + x.errors)} failed` : "";
    return [where, `${fmt(x.appendsPerSec)} (${sig(x.latency.p50)} / ${sig(x.latency.p99)} ms)${failed}`, fmt(x.cpuMicrosPerAppend), share === null ? "" : fmtRatio(share)];
  });
  return [
    "### 7. PostgreSQL store",
    "",
    `The load of scenario 1 (${params.connections} connections, single 256-byte JSON appends, ${params.durationSec} s per cell after ${params.warmupSec} s of warm-up) ` +
      "on Rill's PostgreSQL store (the database on this machine too), through one server and through three servers on one database " +
      "(connections split evenly, each generator driving its own server, the same streams through all), next to the SQLite store in the same run. " +
      "Latency is the worst server's percentile; CPU is all servers' time per append (PostgreSQL's own CPU is not in it).",
    "",
    table(["cell", "appends/s (p50 / p99 ms)", "server µs CPU/append", "÷ SQLite"], lines),
  ];
}
