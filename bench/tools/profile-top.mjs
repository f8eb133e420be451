#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): the functions with the
// most self time, and the heaviest inclusive frames by file.
//   node bench/tools/profile-top.mjs <file.cpuprofile> [count]
import { readFileSync } from "node:fs";

const [file, countArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/tools/profile-top.mjs <file.cpuprofile> [count]");
  process.exit(2);
}
const count = Number(countArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfTicks = new Map();
for (const id of profile.samples) selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
const total = profile.samples.length;

const parents = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

const where = (frame) => {
  const url = frame.url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "~/").replace(/^.*\/packages\//, "packages/");
  return `${frame.functionName || "(anonymous)"} ${url ? `${url}:${frame.lineNumber + 1}` : ""}`.trim();
};

const self = new Map();
const inclusive = new Map();
for (const [id, ticks] of selfTicks) {
  const node = byId.get(id);
  const key = where(node.callFrame);
  self.set(key, (self.get(key) ?? 0) + ticks);
  const seen = new Set();
  for (let cursor = id; cursor !== undefined; cursor = parents.get(cursor)) {
    const k = where(byId.get(cursor).callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + ticks);
  }
}
const pct = (ticks) => `${((100 * ticks) / total).toFixed(1).padStart(5)}%`;
console.log(`${total} samples, ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`);
console.log("\nself time:");
for (const [key, ticks] of [...self].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${pct(ticks)}  ${key}`);
console.log("\ninclusive time:");
for (const [key, ticks] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${pct(ticks)}  ${key}`);
