// Setup load: creates a stream and appends about `totalBytes` to it in batches of
// about `batchBytes` (JSON arrays of `messageSize`-byte messages, or raw bytes).
//   args: { url, stream, contentType, totalBytes, batchBytes, messageSize, connections, varied }
// varied: telemetry-like JSON records (variedJsonBatch) instead of padded messages.
import { Pool } from "undici";
import { appendTo, createStream, forEachLimit, jsonBatch, variedJsonBatch } from "../lib/common.mjs";
import { args, run } from "./worker.mjs";

run(async () => {
  const {
    url,
    stream,
    contentType = "application/json",
    totalBytes,
    batchBytes = 1024 * 1024,
    messageSize = 256,
    connections = 1,
    varied = false,
  } = args;
  await createStream(url, stream, { contentType });
  const json = contentType === "application/json";
  const recordBytes = varied ? variedJsonBatch(0, 1000).length / 1000 : messageSize + 1;
  const perBatch = json ? Math.max(1, Math.floor(batchBytes / recordBytes)) : batchBytes;
  const batchSize = json ? Math.round(perBatch * recordBytes) : batchBytes;
  const batches = Math.ceil(totalBytes / batchSize);
  const raw = json ? null : Buffer.alloc(batchBytes, 0x61);
  const pool = new Pool(url, { connections });
  const batchOf = (b) => (varied ? variedJsonBatch(b * perBatch, perBatch) : jsonBatch(b * perBatch, perBatch, messageSize));
  const started = performance.now();
  // One connection keeps the batches in order; more connections trade order for speed.
  await forEachLimit(batches, connections, (b) =>
    appendTo(url, stream, json ? batchOf(b) : raw, { contentType, dispatcher: pool }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { batches, bytes: varied ? null : batches * batchSize, messages: json ? batches * perBatch : null, seconds };
});
