// Scenario 2 load: idempotent producers writing `messages` JSON messages of
// `messageSize` bytes, spread evenly over `streams` streams (one producer per stream).
//   args: { url, impl: "official" | "rill" | "raw", streams, messages, messageSize, prefix, verify }
//
// impl "official": @durable-streams/client IdempotentProducer (the reference project's client)
// impl "rill":     @rill/client IdempotentProducer (Rill's own client)
// impl "raw":      a minimal producer over raw HTTP (undici): 1 MB JSON-array batches with
//                  Producer-Id/Epoch/Seq headers, 5 batches pipelined on one connection.
import { Client, Agent, request } from "undici";
import { createStream, forEachLimit, jsonMessage, streamUrl } from "../lib/common.mjs";
import { args, run } from "./worker.mjs";

const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 5;

async function loadClient(impl) {
  if (impl === "official") return import("@durable-streams/client");
  if (impl === "rill") {
    const module = await import("@rill/client");
    if (typeof module.IdempotentProducer !== "function" || typeof module.DurableStream !== "function") {
      throw new Error("@rill/client does not export IdempotentProducer and DurableStream");
    }
    return module;
  }
  return null;
}

/** Library producer: append everything, then flush. */
async function produceWithLibrary(lib, url, name, producerId, count, messageSize, base) {
  const errors = [];
  const stream = new lib.DurableStream({ url: streamUrl(url, name), contentType: "application/json" });
  const producer = new lib.IdempotentProducer(stream, producerId, {
    maxBatchBytes: MAX_BATCH_BYTES,
    maxInFlight: MAX_IN_FLIGHT,
    lingerMs: 5,
    onError: (error) => errors.push(error),
  });
  for (let i = 0; i < count; i++) producer.append(jsonMessage(base + i, messageSize));
  await producer.flush();
  if (typeof producer.detach === "function") await producer.detach();
  if (errors.length > 0) throw new Error(`${producerId}: ${errors.length} batch errors, first: ${errors[0]?.message}`);
}

/** Raw producer: the same batching rules, sent by hand. */
async function produceRaw(url, name, producerId, count, messageSize, base) {
  const client = new Client(url, { pipelining: MAX_IN_FLIGHT });
  const path = new URL(streamUrl(url, name)).pathname;
  const batches = [];
  let parts = [];
  let bytes = 2;
  for (let i = 0; i < count; i++) {
    const message = jsonMessage(base + i, messageSize);
    if (parts.length > 0 && bytes + message.length + 1 > MAX_BATCH_BYTES) {
      batches.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(message);
    bytes += message.length + 1;
  }
  if (parts.length > 0) batches.push(`[${parts.join(",")}]`);
  let seq = 0;
  await forEachLimit(batches.length, MAX_IN_FLIGHT, async (index) => {
    const res = await client.request({
      path,
      method: "POST",
      idempotent: true, // producer appends are deduplicated by the server: safe to pipeline
      blocking: false,
      headers: {
        "content-type": "application/json",
        "producer-id": producerId,
        "producer-epoch": "0",
        "producer-seq": String(seq++),
      },
      body: batches[index],
    });
    await res.body.dump();
    if (res.statusCode !== 200 && res.statusCode !== 204) {
      throw new Error(`${producerId} batch ${index}: HTTP ${res.statusCode}`);
    }
  });
  await client.close();
}

/** Reads a whole JSON stream and counts its messages (not timed). */
async function countMessages(url, name) {
  let offset = "-1";
  let total = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    const res = await request(`${streamUrl(url, name)}?offset=${encodeURIComponent(offset)}`);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`verify GET ${name}: HTTP ${res.statusCode}`);
    const items = JSON.parse(text);
    total += items.length;
    offset = res.headers["stream-next-offset"];
    if (res.headers["stream-up-to-date"] === "true" || items.length === 0) break;
  }
  return total;
}

run(async () => {
  const { url, impl, streams, messages, messageSize = 256, prefix = "s2", verify = true } = args;
  const lib = await loadClient(impl);
  const names = Array.from({ length: streams }, (_, i) => `${prefix}-${impl}-${i}`);
  const setup = new Agent({ connections: 16 });
  await forEachLimit(names.length, 16, (i) => createStream(url, names[i], { dispatcher: setup }));
  await setup.close();
  const perStream = Math.floor(messages / streams);

  const started = performance.now();
  await Promise.all(
    names.map((name, s) =>
      lib
        ? produceWithLibrary(lib, url, name, `bench-${s}`, perStream, messageSize, s * perStream)
        : produceRaw(url, name, `bench-${s}`, perStream, messageSize, s * perStream),
    ),
  );
  const seconds = (performance.now() - started) / 1000;

  let verified = null;
  if (verify) {
    let found = 0;
    await forEachLimit(names.length, 8, async (i) => {
      const count = await countMessages(url, names[i]);
      found += count;
    });
    verified = found;
    if (found !== perStream * streams) throw new Error(`verify: expected ${perStream * streams} messages, found ${found}`);
  }
  return { messages: perStream * streams, seconds, msgsPerSec: (perStream * streams) / seconds, verified };
});
