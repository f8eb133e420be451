#!/usr/bin/env node
// CPU time of the metrics work one single append does (route kind, request counter and
// duration histogram, append counters), on and off, in this one process: a figure a shared
// machine barely disturbs (CPU time, not wall time), to set against the server's CPU time
// per append that bench:metrics reports. Run after `npm run build`.
//
//   node bench/tools/metrics-hot-path.mjs [--iterations=1000000]
import { EventEmitter } from "node:events";
import { routeKind } from "../../packages/server/dist/http/observe.js";
import { appendBytes, appendMessages, appends } from "../../packages/server/dist/metrics/append-metrics.js";
import { httpRequestDuration, httpRequests } from "../../packages/server/dist/metrics/http-metrics.js";
import { setMetricsEnabled } from "../../packages/server/dist/metrics/registry.js";

const iterations = Number(process.argv.find((a) => a.startsWith("--iterations="))?.split("=")[1] ?? 1_000_000);

// What http/observe.ts and the append handler do per request, the response's "close" listener included.
function oneAppend() {
  const response = new EventEmitter();
  const startedAt = performance.now();
  response.once("close", () => {
    const route = routeKind("/v1/stream", "POST", "/v1/stream/s1-c50-0");
    httpRequests.at("POST", route, "2xx").inc();
    httpRequestDuration.at(route).observe((performance.now() - startedAt) / 1000);
  });
  appends.inc();
  appendBytes.inc(257);
  appendMessages.inc(1);
  response.emit("close");
}

function microsPerAppend(n) {
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) oneAppend();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

for (const enabled of [true, false]) {
  setMetricsEnabled(enabled);
  microsPerAppend(iterations / 5); // warm-up: let the JIT settle
  console.log(`metrics ${enabled ? "on " : "off"}: ${microsPerAppend(iterations).toFixed(3)} µs of CPU per append`);
}
