#!/usr/bin/env node
// Compares two V8 heap snapshots (e.g. a server with N and with 2N idle streams, from
// bench/tools/footprint-probe.mjs): self size and count per object kind, largest growth
// first, divided by `per` (the number of streams or readers added between the two).
//   node bench/tools/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [per] [rows]
import { readFileSync } from "node:fs";

const [beforeFile, afterFile, perArg, rowsArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) {
  console.error("usage: node bench/tools/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [per] [rows]");
  process.exit(2);
}
const per = Number(perArg ?? 1);
const rows = Number(rowsArg ?? 25);

/** kind → { count, bytes }. A kind is the node type plus, for objects and closures, the constructor name. */
function summarise(file) {
  const snapshot = JSON.parse(readFileSync(file, "utf8"));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const { nodes, strings } = snapshot;
  const kinds = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const name = strings[nodes[i + nameAt]];
    let kind;
    if (type === "object" || type === "closure" || type === "native") kind = `${type} ${name}`;
    else if (type === "array" || type === "hidden" || type === "code") kind = `${type} ${name.slice(0, 60)}`;
    else kind = type; // strings, numbers, …: one row per type
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += nodes[i + sizeAt];
    kinds.set(kind, entry);
  }
  return kinds;
}

const before = summarise(beforeFile);
const after = summarise(afterFile);
const diff = [];
let total = 0;
for (const [kind, a] of after) {
  const b = before.get(kind) ?? { count: 0, bytes: 0 };
  const bytes = a.bytes - b.bytes;
  total += bytes;
  if (bytes !== 0 || a.count !== b.count) diff.push({ kind, count: a.count - b.count, bytes });
}
for (const [kind, b] of before) {
  if (!after.has(kind)) {
    total -= b.bytes;
    diff.push({ kind, count: -b.count, bytes: -b.bytes });
  }
}
diff.sort((x, y) => y.bytes - x.bytes);
const fmt = (n) => (Math.round(n * 10) / 10).toLocaleString("en-US");
console.log(`heap self size growth: ${fmt(total)} B total, ${fmt(total / per)} B per unit (per = ${per})`);
console.log(`${"kind".padEnd(64)} ${"count/unit".padStart(10)} ${"B/unit".padStart(10)}`);
for (const row of diff.slice(0, rows)) {
  console.log(`${row.kind.padEnd(64).slice(0, 64)} ${fmt(row.count / per).padStart(10)} ${fmt(row.bytes / per).padStart(10)}`);
}
