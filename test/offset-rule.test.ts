import { formatOffset, parseOffset } from "@rill/protocol";
import type { RunningServer } from "@rill/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORE_KINDS, startOnStore } from "./support/stores.js";

// The offset rule (docs/offsets.md) on every store and in every read mode:
// an offset inside a message starts the read at that message, an offset at
// or past the tail reads as the tail, and every offset Rill hands out is a
// message boundary, so no response ever holds part of a message.

const JSON_TYPE = "application/json";
const BYTES_TYPE = "application/octet-stream";
const JSON_MESSAGES = ['{"a":1}', '{"b":2}', '{"c":"x,y]"}'];
const BYTE_APPENDS = ["abc", "defg", "h"];

describe.each(STORE_KINDS)("offset rule on the %s store", (kind) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startOnStore(kind, { longPollTimeoutMs: 500, liveReadBytes: 4, readChunkBytes: 0 });
  });
  afterAll(() => server?.close());

  const url = (name: string) => `${server.streamsUrl}/${name}`;
  const at = (position: number) => formatOffset(position);

  async function create(name: string, type: string, bodies: string[]) {
    expect((await fetch(url(name), { method: "PUT", headers: { "content-type": type } })).status).toBe(201);
    // Appends sent together land in one commit round, where a store might merge them.
    const sent = await Promise.all(bodies.map((body) => fetch(url(name), { method: "POST", headers: { "content-type": type }, body })));
    expect(sent.map((r) => r.status)).toEqual(bodies.map(() => 204));
  }

  /** Each message's [start, end) in the stream, by reading it from the start. */
  async function jsonSpans(name: string) {
    const starts: number[] = [];
    let position = 0;
    for (const message of await (await fetch(`${url(name)}?offset=-1`)).json()) {
      starts.push(position);
      position += Buffer.byteLength(JSON.stringify(message)) + 1;
    }
    return { starts, tail: position };
  }

  describe("JSON streams", () => {
    beforeAll(() => create("json", JSON_TYPE, [`[${JSON_MESSAGES[0]},${JSON_MESSAGES[1]}]`, JSON_MESSAGES[2]!]));

    it("answers a catch-up read at any byte offset with a valid array of the whole messages that end after it", async () => {
      const { starts, tail } = await jsonSpans("json");
      expect(tail).toBe(JSON_MESSAGES.join(",").length + 1);
      for (let position = 0; position <= tail + 2; position++) {
        const res = await fetch(`${url("json")}?offset=${at(position)}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe(JSON_TYPE);
        const first = starts.filter((start) => start <= position).length - 1;
        const expected = position >= tail ? [] : JSON_MESSAGES.slice(first).map((m) => JSON.parse(m));
        expect(await res.json(), `offset ${position}`).toEqual(expected);
        expect(res.headers.get("stream-next-offset")).toBe(at(tail));
        expect(res.headers.get("stream-up-to-date")).toBe("true");
      }
    });

    it("answers the issue's example (offset 1 of [{a:1},{b:2}]) with both messages", async () => {
      const res = await fetch(`${url("json")}?offset=${at(1)}`);
      expect(await res.text()).toBe(`[${JSON_MESSAGES.join(",")}]`);
    });

    it("gives whole messages to a long-poll inside a message", async () => {
      const res = await fetch(`${url("json")}?offset=${at(3)}&live=long-poll`);
      expect(res.status).toBe(200);
      // The live window is 4 bytes here: the first message alone, which ends on a boundary.
      expect(await res.json()).toEqual([{ a: 1 }]);
      expect(res.headers.get("stream-next-offset")).toBe(at(8));
    });

    it("gives whole messages to SSE inside a message, and follows with boundaries only", async () => {
      const events = await readSse(`${url("json")}?offset=${at(10)}&live=sse`, 2);
      expect(events.data.map((d) => JSON.parse(d))).toEqual([[{ b: 2 }], [{ c: "x,y]" }]]);
      expect(events.offsets).toEqual([at(16), at(JSON_MESSAGES.join(",").length + 1)]);
    });
  });

  describe("byte streams", () => {
    beforeAll(() => create("bytes", BYTES_TYPE, BYTE_APPENDS));
    const appendStart = (position: number) => {
      let start = 0;
      for (const part of BYTE_APPENDS) {
        if (position < start + part.length) return start;
        start += part.length;
      }
      return start;
    };

    it("starts a catch-up read inside an append at that append, even for appends of one commit round", async () => {
      const all = BYTE_APPENDS.join("");
      for (let position = 0; position <= all.length + 2; position++) {
        const res = await fetch(`${url("bytes")}?offset=${at(position)}`);
        expect(res.status).toBe(200);
        expect(await res.text(), `offset ${position}`).toBe(all.slice(Math.min(appendStart(position), all.length)));
        expect(res.headers.get("stream-next-offset")).toBe(at(all.length));
      }
    });

    it("starts long-poll and SSE inside an append at that append", async () => {
      const poll = await fetch(`${url("bytes")}?offset=${at(5)}&live=long-poll`);
      expect(await poll.text()).toBe("defg");
      expect(poll.headers.get("stream-next-offset")).toBe(at(7));
      const events = await readSse(`${url("bytes")}?offset=${at(1)}&live=sse`, 3);
      expect(events.data.map((d) => Buffer.from(d, "base64").toString())).toEqual(["abc", "defg", "h"]);
    });
  });

  describe("offsets past the tail", () => {
    beforeAll(() => create("past", BYTES_TYPE, ["xy"]));

    it("read as the tail in every mode, just past it or far past it", async () => {
      for (const position of [3, 1_000_000]) {
        const res = await fetch(`${url("past")}?offset=${at(position)}`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("");
        expect(res.headers.get("stream-next-offset")).toBe(at(2));
        expect(res.headers.get("stream-up-to-date")).toBe("true");
        const timedOut = await fetch(`${url("past")}?offset=${at(position)}&live=long-poll`);
        expect(timedOut.status).toBe(204);
        expect(timedOut.headers.get("stream-next-offset")).toBe(at(2));
      }
      const waiting = fetch(`${url("past")}?offset=${at(3)}&live=long-poll`);
      // The append goes once the SSE reader is caught up (its first control event).
      const append = () => fetch(url("past"), { method: "POST", headers: { "content-type": BYTES_TYPE }, body: "z" }).then(() => undefined);
      const sse = await readSse(`${url("past")}?offset=${at(50)}&live=sse`, 1, append);
      expect(sse.data.map((d) => Buffer.from(d, "base64").toString())).toEqual(["z"]);
      expect(sse.offsets).toEqual([at(2), at(3)]);
      const woken = await waiting;
      expect(await woken.text()).toBe("z");
      expect(woken.headers.get("stream-next-offset")).toBe(at(3));
    });
  });

  it("hands out only boundaries when responses are cut, and they join up to the whole stream", async () => {
    const chunked = await startOnStore(kind, { readChunkBytes: 5, liveReadBytes: 5 });
    try {
      const name = `${chunked.streamsUrl}/cut`;
      await fetch(name, { method: "PUT", headers: { "content-type": BYTES_TYPE } });
      for (const part of ["abc", "defghij", "kl", "m"]) {
        await fetch(name, { method: "POST", headers: { "content-type": BYTES_TYPE }, body: part });
      }
      for (const live of ["", "&live=long-poll"]) {
        const bodies: string[] = [];
        let offset = "-1";
        for (;;) {
          const res = await fetch(`${name}?offset=${offset}${live}`);
          bodies.push(await res.text());
          offset = res.headers.get("stream-next-offset")!;
          if (res.headers.get("stream-up-to-date") === "true") break;
        }
        // A message larger than the limit comes whole; otherwise a response stops before the message that would pass it.
        expect(bodies).toEqual(["abc", "defghij", "klm"]);
        expect(parseOffset(offset)).toBe(13);
      }
    } finally {
      await chunked.close();
    }
  });
});

/**
 * Reads an SSE response until at least `minData` data events came and the
 * last control event said up-to-date (calling `afterFirstControl` once the
 * first control event came); returns the data payloads and the
 * offsets of the control events.
 */
async function readSse(href: string, minData: number, afterFirstControl?: () => Promise<void>): Promise<{ data: string[]; offsets: string[] }> {
  const abort = new AbortController();
  const res = await fetch(href, { signal: abort.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const data: string[] = [];
  const offsets: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { data, offsets };
      text += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(frame)?.[1];
        const lines = frame.split("\n").filter((line) => line.startsWith("data:"));
        const payload = lines.map((line) => line.replace(/^data: ?/, "")).join("\n");
        if (event === "data") data.push(payload);
        if (event !== "control") continue;
        const control = JSON.parse(payload) as { streamNextOffset: string; upToDate?: boolean };
        offsets.push(control.streamNextOffset);
        if (offsets.length === 1) await afterFirstControl?.();
        if (control.upToDate && data.length >= minData) return { data, offsets };
      }
    }
  } finally {
    abort.abort();
  }
}
