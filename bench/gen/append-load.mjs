// Scenario 1 load: N keep-alive connections, each POSTing single small JSON
// messages back to back (autocannon), round-robin over the given streams.
//   args: { url, streams, connections, durationSec, warmupSec, messageSize, prefix }
import autocannon from "autocannon";
import { Agent } from "undici";
import { createStream, forEachLimit, jsonMessage, STREAM_BASE } from "../lib/common.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { args, run } from "./worker.mjs";

function runCannon({ url, paths, connections, durationSec, body, onResponse }) {
  let next = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: durationSec,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        requests: [
          {
            method: "POST",
            setupRequest(request) {
              request.path = paths[next++ % paths.length];
              return request;
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (onResponse) instance.on("response", onResponse);
  });
}

run(async () => {
  const { url, streams, connections, durationSec, warmupSec = 1, messageSize = 256, prefix = "s1" } = args;
  const names = Array.from({ length: streams }, (_, i) => `${prefix}-${i}`);
  const dispatcher = new Agent({ connections: 32 });
  await forEachLimit(names.length, 32, (i) => createStream(url, names[i], { dispatcher }));
  await dispatcher.close();
  const paths = names.map((name) => `${STREAM_BASE}/${name}`);
  const body = jsonMessage(0, messageSize);

  const warm = warmupSec > 0 ? await runCannon({ url, paths, connections, durationSec: warmupSec, body }) : null;

  const histogram = new Histogram();
  let ok = 0;
  let failed = 0;
  const statuses = {};
  const result = await runCannon({
    url,
    paths,
    connections,
    durationSec,
    body,
    onResponse(_client, statusCode, _bytes, responseTime) {
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        histogram.record(responseTime);
      } else {
        failed++;
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      }
    },
  });
  const seconds = result.duration; // seconds actually measured by autocannon
  return {
    appends: ok,
    seconds,
    appendsPerSec: ok / seconds,
    // every request the server answered, warm-up included: the denominator of its CPU cost per append
    requestsIncludingWarmup: ok + failed + (warm ? warm.requests.total : 0),
    non2xx: failed,
    non2xxStatuses: statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: histogram.summary(),
  };
});
