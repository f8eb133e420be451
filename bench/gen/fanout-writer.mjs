// Scenario 4 writer: appends one `messageSize`-byte JSON message carrying its
// sequence number `i` and send time `t` (wall clock, ms) `rate` times per second for
// `durationSec`, on a fixed schedule: a slow server does not slow the schedule down
// (appends go out over up to 16 keep-alive connections, and queue behind them beyond
// that). Appends still unanswered `graceSec` after the schedule ends are abandoned,
// so a server that falls behind cannot stretch the run without bound.
//   args: { url, stream, rate, durationSec, graceSec, messageSize }
import { setMaxListeners } from "node:events";
import { Pool } from "undici";
import { jsonMessage, sleep, streamUrl, wallNow } from "../lib/common.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { args, run } from "./worker.mjs";

run(async () => {
  const { url, stream, rate = 50, durationSec, graceSec = 10, messageSize = 256 } = args;
  const pool = new Pool(url, { connections: 16 });
  const path = new URL(streamUrl(url, stream)).pathname;
  const appendLatency = new Histogram();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per in-flight append
  const interval = 1000 / rate;
  const total = Math.round(rate * durationSec);
  let acknowledged = 0;
  let failed = 0;
  const inFlight = new Set();
  const started = performance.now();
  for (let k = 0; k < total; k++) {
    const due = started + k * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t = wallNow();
    const body = jsonMessage(k, messageSize, t.toFixed(3));
    const append = pool
      .request({ path, method: "POST", headers: { "content-type": "application/json" }, body, signal: abort.signal })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 200 || res.statusCode === 204) {
          acknowledged++;
          appendLatency.record(wallNow() - t);
        } else failed++;
      })
      .catch(() => {
        if (!abort.signal.aborted) failed++;
      })
      .finally(() => inFlight.delete(append));
    inFlight.add(append);
  }
  const scheduleSeconds = (performance.now() - started) / 1000;
  const abandon = setTimeout(() => abort.abort(), graceSec * 1000);
  const unanswered = await Promise.race([
    Promise.all(inFlight).then(() => 0),
    new Promise((resolve) => abort.signal.addEventListener("abort", () => resolve(inFlight.size))),
  ]);
  clearTimeout(abandon);
  await pool.destroy().catch(() => undefined);
  return {
    scheduled: total,
    acknowledged,
    failed,
    unanswered,
    scheduleSeconds,
    seconds: (performance.now() - started) / 1000,
    appendLatency: appendLatency.summary(),
  };
});
