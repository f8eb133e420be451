// Scenario 7 (issue 13): Rill's PostgreSQL store under the single-append load of scenario 1,
// through 1 and 3 server processes on one database, next to the SQLite store in the same run.
// With several servers the connections are split evenly and each generator drives its own
// server (the same streams through every server, as behind a balancer).
import { adminQuery } from "./pg-admin.mjs";
import { runGenerator, startServerProcess } from "./processes.mjs";
import { fmt } from "./report.mjs";

const ADMIN_URL = process.env.RILL_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const log = (...parts) => console.log("  ", ...parts);

function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs the append generators of one cell in parallel, one per server, and adds their figures up. */
async function cell(servers, { connections, streams, durationSec, warmupSec, prefix }) {
  const cpuBefore = servers.map((s) => s.cpu());
  const shares = servers.map((_, i) => Math.floor(connections / servers.length) + (i < connections % servers.length ? 1 : 0));
  const results = await Promise.all(
    servers.map((server, i) =>
      runGenerator("append-load", { url: server.url, streams, connections: shares[i], durationSec, warmupSec, prefix }),
    ),
  );
  const cpuSeconds = servers.reduce((sum, s, i) => sum + (s.cpu() - cpuBefore[i]), 0);
  const requests = results.reduce((sum, r) => sum + r.requestsIncludingWarmup, 0);
  return {
    appendsPerSec: results.reduce((sum, r) => sum + r.appendsPerSec, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    // the worst server's percentile: a client behind a balancer can land on any of them
    latency: { p50: Math.max(...results.map((r) => r.latency.p50)), p99: Math.max(...results.map((r) => r.latency.p99)) },
    cpuMicrosPerAppend: (1e6 * cpuSeconds) / Math.max(1, requests),
  };
}

function describe(row) {
  return (
    `${row.store.padEnd(8)} ${row.servers} server(s) ${String(row.streams).padStart(3)} stream(s): ${fmt(row.appendsPerSec)} appends/s  ` +
    `p50 ${fmt(row.latency.p50, 2)} ms  p99 ${fmt(row.latency.p99, 2)} ms  ${fmt(row.cpuMicrosPerAppend)} µs CPU/append` +
    (row.non2xx || row.errors ? `  (non-2xx ${row.non2xx}, errors ${row.errors})` : "")
  );
}

export async function postgresAppends({ connections, streamCounts, serverCounts, durationSec, warmupSec, cpuProf }) {
  const rows = [];
  for (const streams of streamCounts) {
    const base = { connections, streams, durationSec, warmupSec };
    try {
      const sqlite = await startServerProcess("rill-sqlite", { cpuProf: cpuProf?.("rill-sqlite") });
      try {
        const row = { store: "sqlite", servers: 1, streams, ...(await cell([sqlite], { ...base, prefix: `s7-${streams}` })) };
        rows.push(row);
        log(describe(row));
      } finally {
        await sqlite.stop();
      }
    } catch (error) {
      rows.push({ store: "sqlite", servers: 1, streams, error: String(error?.message ?? error).slice(0, 300) });
    }
    for (const count of serverCounts) {
      // A fresh database per cell, so every cell starts from the same empty schema.
      const name = `rill_bench_${process.pid}_${streams}_${count}`;
      try {
        await adminQuery(ADMIN_URL, `CREATE DATABASE ${name}`);
        const servers = [];
        try {
          // One at a time: the first one creates the schema, the others find it.
          for (let i = 0; i < count; i++) {
            servers.push(await startServerProcess("rill-postgres", { databaseUrl: databaseUrl(name), cpuProf: cpuProf?.("rill-postgres") }));
          }
          const row = { store: "postgres", servers: count, streams, ...(await cell(servers, { ...base, prefix: `s7-${streams}` })) };
          rows.push(row);
          log(describe(row));
        } finally {
          for (const server of servers) await server.stop();
        }
      } catch (error) {
        rows.push({ store: "postgres", servers: count, streams, error: String(error?.message ?? error).slice(0, 300) });
        log(`postgres ${count} server(s) ${streams} stream(s): FAILED ${error?.message ?? error}`);
      } finally {
        await adminQuery(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      }
    }
  }
  return rows;
}
