// Creates `count` streams named `<prefix>-<i>` with `concurrency` requests in flight,
// each with an optional initial body (one PUT per stream). Reports the creation rate.
//   args: { url, count, prefix, concurrency, contentType, initialBody }
import { Agent } from "undici";
import { createStream, forEachLimit } from "../lib/common.mjs";
import { args, run } from "./worker.mjs";

run(async () => {
  const { url, count, prefix = "idle", concurrency = 32, contentType = "application/json", initialBody } = args;
  const dispatcher = new Agent({ connections: concurrency });
  const started = performance.now();
  await forEachLimit(count, concurrency, (i) =>
    createStream(url, `${prefix}-${i}`, { contentType, body: initialBody, dispatcher }),
  );
  const seconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  return { count, seconds, perSec: count / seconds };
});
