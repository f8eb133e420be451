// Scenario 4/5 load: `subscribers` live readers of one stream, each on its own
// connection, in SSE or long-poll mode, starting at `offset`. Each delivered message
// carries its send time `t` (wall clock, ms); the delivery latency is now - t.
//   args: { url, stream, subscribers, mode: "sse" | "long-poll", offset, rampBatch,
//           h2, streamsPerConnection, insecure }
// With h2 (an https server), SSE subscribers share HTTP/2 connections,
// `streamsPerConnection` streams each, instead of one connection apiece.
// Protocol with the orchestrator: sends { type: "ready", connected } once every
// subscriber is connected; answers { cmd: "progress" } with { type: "progress", delivered };
// on { cmd: "report" } sends { type: "result", ... }.
import { StringDecoder } from "node:string_decoder";
import { Client } from "undici";
import { streamUrl, wallNow, sleep } from "../lib/common.mjs";
import { RawHttpConnection } from "./raw-http.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { closeRawReaders, rawSseReader } from "./raw-sse.mjs";
import { args, command, run, send } from "./worker.mjs";

const STAMP = /"i":(\d+),"t":([0-9.]+)/g;
const latency = new Histogram();
let delivered = 0;
let duplicates = 0;
let reconnects = 0;
let errors = 0;
let stopped = false;
let firstError = null;

/**
 * Records the latency of every message in `text`. `seen` is the subscriber's bitmap of
 * sequence numbers already delivered (the writer's appends may commit out of order, so
 * duplicates are told apart by number, not by order).
 */
function recordMessages(text, seen) {
  const now = wallNow();
  STAMP.lastIndex = 0;
  let match;
  while ((match = STAMP.exec(text)) !== null) {
    const i = Number(match[1]);
    if (i >= seen.bits.length * 8) {
      const grown = new Uint8Array(Math.max(seen.bits.length * 2, (i >> 3) + 1));
      grown.set(seen.bits);
      seen.bits = grown;
    }
    const mask = 1 << (i & 7);
    if (seen.bits[i >> 3] & mask) {
      duplicates++;
      continue;
    }
    seen.bits[i >> 3] |= mask;
    latency.record(now - Number(match[2]));
    delivered++;
  }
}

function noteError(error) {
  errors++;
  firstError ??= String(error?.message ?? error);
}

const NEXT_OFFSET = /"streamNextOffset":"([^"]+)"/;

/** Handles one SSE frame; returns the offset to resume from. */
function handleFrame(frame, offset, seen) {
  let event = "message";
  let data = "";
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(line[5] === " " ? 6 : 5);
  }
  if (event === "data") recordMessages(data, seen);
  else if (event === "control") {
    const match = NEXT_OFFSET.exec(data);
    if (match) offset = match[1];
    if (data.includes('"streamClosed":true')) stopped = true;
  }
  return offset;
}

/** SSE subscriber: parses `event:`/`data:` frames; reconnects from the last control offset. */
async function sseSubscriber(url, name, offset, onConnected, shared) {
  const client = shared ?? new Client(url, { headersTimeout: 0, bodyTimeout: 0 });
  const path = new URL(streamUrl(url, name)).pathname;
  let connected = false;
  const seen = { bits: new Uint8Array(64) };
  while (!stopped) {
    try {
      const res = await client.request({ path: `${path}?offset=${encodeURIComponent(offset)}&live=sse`, method: "GET" });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`SSE HTTP ${res.statusCode}`);
      }
      if (!connected) {
        connected = true;
        onConnected();
      }
      const decoder = new StringDecoder("utf8");
      let buffer = "";
      await new Promise((resolve, reject) => {
        res.body.on("data", (bytes) => {
          const chunk = decoder.write(bytes);
          buffer = buffer.length === 0 ? chunk : buffer + chunk;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            offset = handleFrame(buffer.slice(0, end), offset, seen);
            buffer = buffer.slice(end + 2);
          }
        });
        res.body.on("end", resolve);
        res.body.on("error", reject);
      });
      if (!stopped) reconnects++;
    } catch (error) {
      if (stopped) break;
      noteError(error);
      if (!connected) {
        connected = true; // count it as an attempt so the ramp does not stall
        onConnected();
      }
      await sleep(100);
    }
  }
  if (!shared) await client.destroy().catch(() => undefined);
}

/** SSE subscriber over a raw socket (plain HTTP/1.1): the cheap reader of raw-sse.mjs. */
function rawSseSubscriber(url, name, offset, onConnected) {
  const { hostname, port } = new URL(url);
  const path = new URL(streamUrl(url, name)).pathname;
  const seen = { bits: new Uint8Array(64) };
  return rawSseReader({
    host: hostname,
    port: Number(port),
    pathFor: () => `${path}?offset=${encodeURIComponent(offset)}&live=sse`,
    onConnected,
    onText(text) {
      recordMessages(text, seen);
      const at = text.lastIndexOf('"streamNextOffset":"');
      if (at !== -1) {
        const match = NEXT_OFFSET.exec(text.slice(at));
        if (match) offset = match[1];
      }
      if (text.includes('"streamClosed":true')) stopped = true;
    },
    onError: noteError,
    onReconnect: () => reconnects++,
    isStopped: () => stopped,
  });
}

/** Long-poll subscriber: GET ?offset=&live=long-poll in a loop, following Stream-Next-Offset. */
async function longPollSubscriber(url, name, offset, onConnected) {
  const client = new Client(url, { headersTimeout: 0, bodyTimeout: 0 });
  const path = new URL(streamUrl(url, name)).pathname;
  const poll = async (query) => {
    const res = await client.request({ path: `${path}?${query}`, method: "GET" });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  try {
    await longPollLoop(poll, offset, onConnected);
  } finally {
    await client.destroy().catch(() => undefined);
  }
}

/** The same over one raw keep-alive socket (plain HTTP/1.1): the generator parses only what it measures. */
async function rawLongPollSubscriber(url, name, offset, onConnected) {
  const { hostname, port } = new URL(url);
  const path = new URL(streamUrl(url, name)).pathname;
  let connection = new RawHttpConnection(hostname, Number(port));
  const poll = async (query) => {
    try {
      const res = await connection.get(`${path}?${query}`, {}, { keepBody: true });
      return { status: res.status, headers: res.headers, text: res.body.toString("utf8") };
    } catch (error) {
      // A broken connection is replaced before the retry.
      connection.close();
      connection = new RawHttpConnection(hostname, Number(port));
      throw error;
    }
  };
  try {
    await longPollLoop(poll, offset, onConnected);
  } finally {
    connection.close();
  }
}

async function longPollLoop(poll, offset, onConnected) {
  let cursor = null;
  let first = true;
  const seen = { bits: new Uint8Array(64) };
  while (!stopped) {
    try {
      const query = `offset=${encodeURIComponent(offset)}&live=long-poll${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const pending = poll(query);
      if (first) {
        first = false;
        onConnected();
      }
      const res = await pending;
      if (res.status === 200) recordMessages(res.text, seen);
      else if (res.status !== 204) throw new Error(`long-poll HTTP ${res.status}`);
      offset = res.headers["stream-next-offset"] ?? offset;
      cursor = res.headers["stream-cursor"] ?? cursor;
      if (res.headers["stream-closed"] === "true") break;
    } catch (error) {
      if (stopped) break;
      noteError(error);
      await sleep(100);
    }
  }
}

run(async () => {
  const { url, stream, subscribers, mode = "sse", offset, rampBatch = 100, h2 = false, streamsPerConnection = 100 } = args;
  // Plain HTTP/1.1 readers use raw sockets (cheap); TLS and HTTP/2 readers go through undici.
  const plain = url.startsWith("http:") && !h2;
  const subscribe = mode === "sse" ? (plain ? rawSseSubscriber : sseSubscriber) : plain ? rawLongPollSubscriber : longPollSubscriber;
  const running = [];
  const connections = [];
  const connectionFor = (i) => {
    if (!h2) return undefined;
    const index = Math.floor(i / streamsPerConnection);
    connections[index] ??= new Client(url, {
      allowH2: true,
      pipelining: streamsPerConnection,
      maxConcurrentStreams: streamsPerConnection,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return connections[index];
  };
  for (let i = 0; i < subscribers; i += rampBatch) {
    const batch = Math.min(rampBatch, subscribers - i);
    await new Promise((resolve) => {
      let pending = batch;
      for (let k = 0; k < batch; k++) {
        running.push(
          subscribe(
            url,
            stream,
            offset,
            () => {
              if (--pending === 0) resolve();
            },
            connectionFor(i + k),
          ),
        );
      }
    });
  }
  process.on("message", (message) => {
    if (message?.cmd === "progress") send("progress", { delivered });
  });
  send("ready", { connected: subscribers, errors });
  await command("report");
  stopped = true;
  closeRawReaders();
  for (const client of connections) await client.destroy().catch(() => undefined);
  return { subscribers, delivered, duplicates, reconnects, errors, firstError, latency: latency.toJSON() };
});
