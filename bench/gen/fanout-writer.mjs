// Scenario 4 writer: appends one `messageSize`-byte JSON message carrying its send
// time `t` (wall clock, ms) `rate` times per second for `durationSec`, on a fixed
// schedule: a slow server does not slow the schedule down (appends go out over up
// to 16 keep-alive connections, and queue behind them beyond that).
//   args: { url, stream, rate, durationSec, messageSize }
import { Pool } from "undici";
import { jsonMessage, sleep, streamUrl, wallNow } from "../lib/common.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { args, run } from "./worker.mjs";

run(async () => {
  const { url, stream, rate = 50, durationSec, messageSize = 256 } = args;
  const pool = new Pool(url, { connections: 16 });
  const path = new URL(streamUrl(url, stream)).pathname;
  const appendLatency = new Histogram();
  const interval = 1000 / rate;
  const total = Math.round(rate * durationSec);
  let sent = 0;
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
      .request({ path, method: "POST", headers: { "content-type": "application/json" }, body })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 200 || res.statusCode === 204) {
          sent++;
          appendLatency.record(wallNow() - t);
        } else failed++;
      })
      .catch(() => failed++)
      .finally(() => inFlight.delete(append));
    inFlight.add(append);
  }
  await Promise.all(inFlight);
  await pool.close();
  return { sent, failed, seconds: (performance.now() - started) / 1000, appendLatency: appendLatency.summary() };
});
