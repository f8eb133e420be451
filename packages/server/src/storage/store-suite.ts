import { formatOffset, HEADER } from "@rill/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AppendCommand, AppendOutcome } from "../engine/commands.js";
import { ProtocolError } from "../engine/errors.js";
import type { ResolvedCreateCommand, Store } from "./store.js";

/**
 * The behaviour every Store must share, tested through the interface only.
 * Each store's test file calls this with a factory; stores that persist pass
 * `reopen`, which closes the store and opens a new one on the same data.
 */
export interface StoreHarness {
  store: Store;
  /** Closes the current store and opens another over the same data. */
  reopen?: () => Promise<Store>;
  /** Closes whatever store is current and removes its data. */
  cleanup: () => Promise<void>;
}

const T0 = 1_700_000_000_000;
const SECOND = 1000;
const BIG = 1 << 30;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array): string => decoder.decode(data);

function createCommand(path: string, fields: Partial<ResolvedCreateCommand> = {}): ResolvedCreateCommand {
  return {
    path,
    contentType: "application/octet-stream",
    ttlSeconds: null,
    expiresAt: null,
    closed: false,
    data: new Uint8Array(0),
    fork: null,
    ...fields,
  };
}

function appendCommand(path: string, data: string, fields: Partial<AppendCommand> = {}): AppendCommand {
  return { path, contentType: null, data: bytes(data), streamSeq: null, producer: null, close: false, ...fields };
}

function fork(source: string, position: number): ResolvedCreateCommand["fork"] {
  return { source, position, explicit: true };
}

function producer(id: string, epoch: number, seq: number): AppendCommand["producer"] {
  return { id, epoch, seq };
}

/** Awaits a rejection and checks it is the protocol error a client would get. */
async function refused(promise: Promise<unknown>, status: number, code: string): Promise<ProtocolError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ${status} ${code} refusal`).toBeInstanceOf(ProtocolError);
  const error = caught as ProtocolError;
  expect({ status: error.status, code: error.code }).toEqual({ status, code });
  return error;
}

export function runStoreSuite(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`${name}: Store behaviour`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    /** Everything the stream itself stores, from `from` to its tail. */
    async function contents(path: string, from = 0): Promise<string> {
      const stream = await store.getStream(path);
      if (!stream) return "";
      return text(await store.readRange(path, from, stream.tail, BIG, true));
    }

    async function tailOf(path: string): Promise<number | undefined> {
      return (await store.getStream(path))?.tail;
    }

    describe("create", () => {
      it("creates a new stream holding its initial data", async () => {
        const outcome = await store.create(createCommand("a", { data: bytes("hello") }), T0);
        expect(outcome.created).toBe(true);
        expect(outcome.stream).toMatchObject({
          path: "a",
          contentType: "application/octet-stream",
          tail: 5,
          createdAt: T0,
          closed: false,
          forkedFrom: null,
          forkOffset: 0,
          forkCount: 0,
          softDeleted: false,
        });
        expect(await store.getStream("a")).toEqual(outcome.stream);
        expect(await contents("a")).toBe("hello");
        expect(await store.getStream("b")).toBeUndefined();
      });

      it("confirms an identical stream instead of creating it again", async () => {
        const command = createCommand("a", { data: bytes("abc"), ttlSeconds: 60 });
        await store.create(command, T0);
        await store.append(appendCommand("a", "def"), T0 + 1);
        const again = await store.create(command, T0 + 2);
        expect(again.created).toBe(false);
        expect(again.stream.tail).toBe(6);
        expect(again.stream.createdAt).toBe(T0);
        expect(await contents("a")).toBe("abcdef");
        // Content types match by media type, ignoring parameters and case.
        await store.create(createCommand("j", { contentType: "application/json" }), T0);
        const json = await store.create(createCommand("j", { contentType: "Application/JSON; charset=utf-8" }), T0);
        expect(json.created).toBe(false);
        expect(json.stream.contentType).toBe("application/json");
      });

      it("refuses a different configuration at an existing path with 409", async () => {
        await store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 60 }), T0);
        await refused(store.create(createCommand("a", { contentType: "application/json", ttlSeconds: 60 }), T0), 409, "STREAM_EXISTS");
        await refused(store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 61 }), T0), 409, "STREAM_EXISTS");
        await refused(store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: null }), T0), 409, "STREAM_EXISTS");
        await refused(
          store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 60, closed: true }), T0),
          409,
          "STREAM_EXISTS",
        );
        expect((await store.getStream("a"))?.contentType).toBe("text/plain");
      });

      it("stores JSON and binary content byte for byte, and the content type as given", async () => {
        const framed = '{"a":1},[2,"x,y"],"z",';
        const json = await store.create(
          createCommand("j", { contentType: "application/json; charset=utf-8", data: bytes(framed) }),
          T0,
        );
        expect(json.stream.contentType).toBe("application/json; charset=utf-8");
        expect(await contents("j")).toBe(framed);

        const binary = new Uint8Array(256).map((_, i) => i);
        await store.create(createCommand("b", { contentType: null, data: binary }), T0);
        expect((await store.getStream("b"))?.contentType).toBe("application/octet-stream");
        expect(Array.from(await store.readRange("b", 0, 256, BIG, true))).toEqual(Array.from(binary));
      });

      it("creates a stream already closed", async () => {
        const outcome = await store.create(createCommand("c", { closed: true, data: bytes("fin") }), T0);
        expect(outcome.stream.closed).toBe(true);
        await refused(store.append(appendCommand("c", "more"), T0), 409, "STREAM_CLOSED");
        expect(await contents("c")).toBe("fin");
      });

      it("forks a stream at a position and counts the fork on its source", async () => {
        await store.create(createCommand("s", { contentType: "text/plain", ttlSeconds: 300, data: bytes("0123456789") }), T0);
        const f = await store.create(createCommand("f", { contentType: null, fork: fork("s", 4) }), T0 + 1);
        expect(f.created).toBe(true);
        expect(f.stream).toMatchObject({
          forkedFrom: "s",
          forkOffset: 4,
          tail: 4,
          contentType: "text/plain",
          ttlSeconds: 300,
        });
        expect((await store.getStream("s"))?.forkCount).toBe(1);

        const g = await store.create(createCommand("g", { contentType: null, fork: fork("s", 10), data: bytes("XY") }), T0);
        expect(g.stream).toMatchObject({ forkOffset: 10, tail: 12 });
        expect((await store.getStream("s"))?.forkCount).toBe(2);
        // A fork stores only its own bytes; those below the fork point belong to the source.
        expect(text(await store.readRange("g", 10, 12, BIG, true))).toBe("XY");

        const appended = await store.append(appendCommand("f", "abc"), T0 + 2);
        expect(appended.start).toBe(4);
        expect(text(await store.readRange("f", 4, 7, BIG, true))).toBe("abc");
        expect(await contents("s")).toBe("0123456789");

        // Confirming the fork again does not count it twice.
        const again = await store.create(createCommand("f", { contentType: null, fork: fork("s", 4) }), T0 + 3);
        expect(again.created).toBe(false);
        expect((await store.getStream("s"))?.forkCount).toBe(2);
      });

      it("refuses to fork a missing source with 404", async () => {
        await refused(store.create(createCommand("f", { fork: fork("nope", 0) }), T0), 404, "FORK_SOURCE_NOT_FOUND");
        expect(await store.getStream("f")).toBeUndefined();
      });

      it("refuses to fork a deleted source with 409, even while forks keep it", async () => {
        await store.create(createCommand("s", { data: bytes("abc") }), T0);
        await store.create(createCommand("f1", { fork: fork("s", 3) }), T0);
        expect(await store.delete("s", T0)).toEqual({ soft: true });
        await refused(store.create(createCommand("f2", { fork: fork("s", 3) }), T0), 409, "FORK_SOURCE_GONE");
        expect(await store.getStream("f2")).toBeUndefined();
        expect((await store.getStream("s"))?.forkCount).toBe(1);
      });

      it("refuses a fork point past the source's tail", async () => {
        await store.create(createCommand("s", { data: bytes("abc") }), T0);
        await refused(store.create(createCommand("f", { fork: fork("s", 4) }), T0), 400, "FORK_OFFSET_OUT_OF_RANGE");
        expect((await store.getStream("s"))?.forkCount).toBe(0);
      });

      it("replaces an expired stream with a fresh one", async () => {
        await store.create(createCommand("e", { ttlSeconds: 10, data: bytes("old data") }), T0);
        await store.append(appendCommand("e", "!", { producer: producer("p", 0, 0) }), T0);
        const later = T0 + 11 * SECOND;
        const outcome = await store.create(createCommand("e", { data: bytes("new") }), later);
        expect(outcome.created).toBe(true);
        expect(outcome.stream).toMatchObject({ tail: 3, createdAt: later, ttlSeconds: null });
        expect(await contents("e")).toBe("new");
        // The old stream's producer state went with it: seq 0 is new again.
        const fresh = await store.append(appendCommand("e", "?", { producer: producer("p", 0, 0) }), later);
        expect(fresh.kind).toBe("appended");
      });

      it("takes the fork off its source when an expired fork is replaced", async () => {
        await store.create(createCommand("s", { data: bytes("abc") }), T0);
        await store.create(createCommand("f", { fork: fork("s", 3), ttlSeconds: 1 }), T0);
        expect((await store.getStream("s"))?.forkCount).toBe(1);
        await store.create(createCommand("f"), T0 + 2 * SECOND);
        expect((await store.getStream("s"))?.forkCount).toBe(0);
        // With no fork left, deleting the source removes it outright.
        expect(await store.delete("s", T0 + 3 * SECOND)).toEqual({ soft: false });
        expect(await store.getStream("s")).toBeUndefined();
      });

      it("keeps the path of an expired stream that forks still read through", async () => {
        await store.create(createCommand("s", { ttlSeconds: 1, data: bytes("source bytes") }), T0);
        await store.create(createCommand("f", { fork: fork("s", 6), expiresAt: T0 + 3600 * SECOND }), T0);
        await refused(store.create(createCommand("s", { data: bytes("impostor") }), T0 + 2 * SECOND), 409, "STREAM_EXISTS");
        expect(await contents("s")).toBe("source bytes");
      });
    });

    describe("append", () => {
      beforeEach(async () => {
        await store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 60 }), T0);
      });

      it("moves the tail and reports where the bytes start", async () => {
        const first = await store.append(appendCommand("a", "abc"), T0 + 1);
        expect(first).toMatchObject({ kind: "appended", start: 0, producer: null });
        expect(first.stream.tail).toBe(3);
        const second = await store.append(appendCommand("a", "de"), T0 + 2);
        expect(second.start).toBe(3);
        expect(second.stream.tail).toBe(5);
        expect(await store.getStream("a")).toMatchObject({ tail: 5, lastAccessAt: T0 + 2 });
        expect(await contents("a")).toBe("abcde");
      });

      it("refuses a content type that does not match the stream's with 409", async () => {
        await refused(store.append(appendCommand("a", "{}", { contentType: "application/json" }), T0), 409, "CONTENT_TYPE_MISMATCH");
        await store.append(appendCommand("a", "ok", { contentType: "TEXT/plain; charset=utf-8" }), T0);
        expect(await contents("a")).toBe("ok");
      });

      it("refuses a missing stream with 404 and a deleted one kept for forks with 410", async () => {
        await refused(store.append(appendCommand("missing", "x"), T0), 404, "STREAM_NOT_FOUND");
        await store.create(createCommand("f", { contentType: null, fork: fork("a", 0) }), T0);
        await store.delete("a", T0);
        await refused(store.append(appendCommand("a", "x"), T0), 410, "STREAM_GONE");
      });

      it("refuses an expired stream with 404", async () => {
        await refused(store.append(appendCommand("a", "late"), T0 + 61 * SECOND), 404, "STREAM_NOT_FOUND");
      });

      it("closes with a final append and refuses later appends with 409 and the stream-closed header", async () => {
        await store.append(appendCommand("a", "abc"), T0);
        const closing = await store.append(appendCommand("a", "end", { close: true }), T0);
        expect(closing.kind).toBe("appended");
        expect(closing.stream).toMatchObject({ closed: true, tail: 6 });
        const error = await refused(store.append(appendCommand("a", "more"), T0), 409, "STREAM_CLOSED");
        expect(error.headers[HEADER.streamClosed]).toBe("true");
        expect(error.headers[HEADER.streamNextOffset]).toBe(formatOffset(6));
        expect(await contents("a")).toBe("abcend");
      });

      it("closes without data, and a repeated close is a harmless duplicate", async () => {
        await store.append(appendCommand("a", "abc"), T0);
        const close = await store.append(appendCommand("a", "", { close: true }), T0);
        expect(close.kind).toBe("appended");
        expect(close.stream).toMatchObject({ closed: true, tail: 3 });
        const again = await store.append(appendCommand("a", "", { close: true }), T0);
        expect(again.kind).toBe("duplicate");
        expect(again.stream.tail).toBe(3);
        expect((await store.getStream("a"))?.closed).toBe(true);
      });

      it("runs the idempotent producer rules", async () => {
        const send = (data: string, epoch: number, seq: number, id = "p") =>
          store.append(appendCommand("a", data, { producer: producer(id, epoch, seq) }), T0);

        expect(await send("m0", 0, 0)).toMatchObject({ kind: "appended", start: 0, producer: { epoch: 0, seq: 0 } });
        const duplicate = await send("m0", 0, 0);
        expect(duplicate).toMatchObject({ kind: "duplicate", start: 2, producer: { epoch: 0, seq: 0 } });
        expect(await send("m1", 0, 1)).toMatchObject({ kind: "appended", start: 2, producer: { epoch: 0, seq: 1 } });

        const gap = await refused(send("m3", 0, 3), 409, "PRODUCER_SEQ_GAP");
        expect(gap.headers[HEADER.producerExpectedSeq]).toBe("2");
        expect(gap.headers[HEADER.producerReceivedSeq]).toBe("3");

        expect(await send("n0", 1, 0)).toMatchObject({ kind: "appended", producer: { epoch: 1, seq: 0 } });
        const stale = await refused(send("old", 0, 2), 403, "PRODUCER_STALE_EPOCH");
        expect(stale.headers[HEADER.producerEpoch]).toBe("1");
        await refused(send("bad", 2, 1), 400, "PRODUCER_BAD_EPOCH_START");

        // Producers are independent of each other.
        expect(await send("q0", 0, 0, "q")).toMatchObject({ kind: "appended", producer: { epoch: 0, seq: 0 } });
        expect(await send("n1", 1, 1)).toMatchObject({ kind: "appended", producer: { epoch: 1, seq: 1 } });
        expect(await contents("a")).toBe("m0m1n0q0n1");
      });

      it("treats a retry of the producer request that closed the stream as a duplicate", async () => {
        const closing = appendCommand("a", "last", { producer: producer("p", 3, 0), close: true });
        expect((await store.append(closing, T0)).kind).toBe("appended");
        const retry = await store.append(closing, T0 + 1);
        expect(retry).toMatchObject({ kind: "duplicate", producer: { epoch: 3, seq: 0 } });
        await refused(store.append(appendCommand("a", "x", { producer: producer("q", 0, 0) }), T0), 409, "STREAM_CLOSED");
        expect(await contents("a")).toBe("last");
      });

      it("requires Stream-Seq values to increase", async () => {
        await store.append(appendCommand("a", "1", { streamSeq: "b" }), T0);
        await refused(store.append(appendCommand("a", "2", { streamSeq: "a" }), T0), 409, "SEQUENCE_CONFLICT");
        await refused(store.append(appendCommand("a", "3", { streamSeq: "b" }), T0), 409, "SEQUENCE_CONFLICT");
        await store.append(appendCommand("a", "4"), T0);
        await store.append(appendCommand("a", "5", { streamSeq: "c" }), T0);
        expect((await store.getStream("a"))?.lastStreamSeq).toBe("c");
        expect(await contents("a")).toBe("145");
      });
    });

    describe("readRange", () => {
      beforeEach(async () => {
        await store.create(createCommand("r"), T0);
        for (const part of ["aaaaa", "bbbbb", "ccccc"]) await store.append(appendCommand("r", part), T0);
      });

      const read = async (from: number, to: number, maxBytes: number, split: boolean) =>
        text(await store.readRange("r", from, to, maxBytes, split));

      it("starts in the middle of a batch", async () => {
        expect(await read(7, 15, BIG, true)).toBe("bbbccccc");
        expect(await read(7, 15, BIG, false)).toBe("bbbccccc");
        expect(await read(5, 15, BIG, false)).toBe("bbbbbccccc");
      });

      it("returns whole batches unless asked to split them", async () => {
        expect(await read(0, 15, 7, false)).toBe("aaaaa");
        expect(await read(0, 15, 7, true)).toBe("aaaaabb");
        expect(await read(0, 15, 10, false)).toBe("aaaaabbbbb");
        // At least one batch, even past maxBytes.
        expect(await read(0, 15, 2, false)).toBe("aaaaa");
        expect(await read(0, 15, 2, true)).toBe("aa");
        expect(await read(6, 15, 2, true)).toBe("bb");
      });

      it("stops at `to`", async () => {
        expect(await read(0, 12, BIG, false)).toBe("aaaaabbbbbcc");
        expect(await read(3, 4, BIG, true)).toBe("a");
        expect(await read(4, 11, BIG, false)).toBe("abbbbbc");
      });

      it("returns nothing at the tail or for a missing stream", async () => {
        expect(await read(15, 15, BIG, true)).toBe("");
        expect(text(await store.readRange("missing", 0, 10, BIG, true))).toBe("");
      });

      it("reads any window of a long stream", async () => {
        await store.create(createCommand("long"), T0);
        let expected = "";
        const pending: Promise<AppendOutcome>[] = [];
        for (let i = 0; i < 3000; i++) {
          const part = `${i}:${"x".repeat(i % 23)};`;
          expected += part;
          pending.push(store.append(appendCommand("long", part), T0));
        }
        await Promise.all(pending);
        expect(await tailOf("long")).toBe(expected.length);
        let seed = 42;
        const random = (n: number) => {
          // mulberry32: a small deterministic generator, so a failure reproduces.
          seed = (seed + 0x6d2b79f5) | 0;
          let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return (((t ^ (t >>> 14)) >>> 0) % n);
        };
        for (let i = 0; i < 200; i++) {
          const from = random(expected.length);
          const to = from + random(expected.length - from + 1);
          const maxBytes = 1 + random(400);
          const exact = text(await store.readRange("long", from, to, maxBytes, true));
          expect(exact).toBe(expected.slice(from, Math.min(to, from + maxBytes)));
          const whole = text(await store.readRange("long", from, to, maxBytes, false));
          expect(expected.slice(from, to).startsWith(whole)).toBe(true);
          if (from < to) {
            // Whole batches end on a batch boundary (each part ends with ';') or at `to`.
            const end = from + whole.length;
            expect(end === to || expected[end - 1] === ";").toBe(true);
            expect(whole.length).toBeGreaterThan(0);
          }
        }
        // Reading the whole stream page by page gives back everything.
        let position = 0;
        let rebuilt = "";
        while (position < expected.length) {
          const page = text(await store.readRange("long", position, expected.length, 1000, false));
          rebuilt += page;
          position += page.length;
        }
        expect(rebuilt).toBe(expected);
      });
    });

    describe("touch and expiry", () => {
      it("restarts a sliding TTL on touch, visible at once", async () => {
        await store.create(createCommand("t", { ttlSeconds: 10 }), T0);
        await store.touch("t", T0 + 8 * SECOND);
        expect((await store.getStream("t"))?.lastAccessAt).toBe(T0 + 8 * SECOND);
        expect(await store.sweepExpired(T0 + 12 * SECOND)).toEqual([]);
        expect(await store.getStream("t")).toBeDefined();
        expect(await store.sweepExpired(T0 + 18 * SECOND)).toEqual(["t"]);
        expect(await store.getStream("t")).toBeUndefined();
      });

      it("counts an append as access", async () => {
        await store.create(createCommand("t", { ttlSeconds: 10 }), T0);
        await store.append(appendCommand("t", "x"), T0 + 9 * SECOND);
        expect(await store.sweepExpired(T0 + 12 * SECOND)).toEqual([]);
        expect(await contents("t")).toBe("x");
      });

      it("sweeps streams past their absolute expiry, and only those", async () => {
        await store.create(createCommand("abs", { expiresAt: T0 + 5 * SECOND, data: bytes("abc") }), T0);
        await store.create(createCommand("forever", { data: bytes("keep") }), T0);
        await store.create(createCommand("later", { ttlSeconds: 60 }), T0);
        await store.touch("abs", T0 + 4 * SECOND); // no sliding TTL: touching does not extend it
        expect(await store.sweepExpired(T0 + 4 * SECOND)).toEqual([]);
        expect(await store.sweepExpired(T0 + 5 * SECOND)).toEqual(["abs"]);
        expect(await store.getStream("abs")).toBeUndefined();
        expect(text(await store.readRange("abs", 0, 3, BIG, true))).toBe("");
        expect((await store.list("", null, 10)).map((s) => s.path)).toEqual(["forever", "later"]);
      });

      it("keeps an expired stream that forks read through, hidden, until its last fork goes", async () => {
        await store.create(createCommand("s", { ttlSeconds: 10, data: bytes("shared") }), T0);
        await store.create(createCommand("f", { fork: fork("s", 6), ttlSeconds: 3600 }), T0);
        expect(await store.sweepExpired(T0 + 11 * SECOND)).toEqual(["s"]);
        expect(await store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 1 });
        expect(text(await store.readRange("s", 0, 6, BIG, true))).toBe("shared");
        expect(await store.sweepExpired(T0 + 12 * SECOND)).toEqual([]);
        await store.delete("f", T0 + 13 * SECOND);
        expect(await store.getStream("s")).toBeUndefined();
      });
    });

    describe("delete", () => {
      it("removes a stream with its data and producer state", async () => {
        await store.create(createCommand("d", { data: bytes("abc") }), T0);
        for (let seq = 0; seq < 3; seq++) {
          await store.append(appendCommand("d", "x", { producer: producer("p", 0, seq) }), T0);
        }
        expect(await store.delete("d", T0)).toEqual({ soft: false });
        expect(await store.getStream("d")).toBeUndefined();
        expect(text(await store.readRange("d", 0, 6, BIG, true))).toBe("");
        expect(await store.list("", null, 10)).toEqual([]);

        await store.create(createCommand("d"), T0 + 1);
        expect(await tailOf("d")).toBe(0);
        await refused(store.append(appendCommand("d", "y", { producer: producer("p", 0, 3) }), T0), 409, "PRODUCER_SEQ_GAP");
        expect((await store.append(appendCommand("d", "y", { producer: producer("p", 0, 0) }), T0)).kind).toBe("appended");
        expect(await contents("d")).toBe("y");
      });

      it("deleting a missing stream changes nothing", async () => {
        await store.create(createCommand("x"), T0);
        expect(await store.delete("nope", T0)).toEqual({ soft: false });
        expect(await store.getStream("x")).toBeDefined();
      });

      it("only hides a stream forks read through, and removes it with its last fork", async () => {
        await store.create(createCommand("s", { data: bytes("base") }), T0);
        await store.create(createCommand("f1", { fork: fork("s", 4) }), T0);
        await store.create(createCommand("f2", { fork: fork("s", 2) }), T0);
        expect(await store.delete("s", T0)).toEqual({ soft: true });
        expect(await store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 2 });
        expect(await contents("s")).toBe("base");

        expect(await store.delete("f1", T0)).toEqual({ soft: false });
        expect(await store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 1 });
        expect(await store.delete("f2", T0)).toEqual({ soft: false });
        expect(await store.getStream("s")).toBeUndefined();
        expect(await store.list("", null, 10)).toEqual([]);
      });

      it("cascades up a three-deep fork chain", async () => {
        await store.create(createCommand("a", { data: bytes("aaa") }), T0);
        await store.create(createCommand("b", { fork: fork("a", 3), data: bytes("bb") }), T0);
        await store.create(createCommand("c", { fork: fork("b", 5), data: bytes("c") }), T0);
        expect(await store.delete("a", T0)).toEqual({ soft: true });
        expect(await store.delete("b", T0)).toEqual({ soft: true });
        expect(await store.getStream("a")).toMatchObject({ softDeleted: true, forkCount: 1 });
        expect(await store.getStream("b")).toMatchObject({ softDeleted: true, forkCount: 1 });
        expect(await store.delete("c", T0)).toEqual({ soft: false });
        for (const path of ["a", "b", "c"]) expect(await store.getStream(path)).toBeUndefined();
        expect(text(await store.readRange("a", 0, 3, BIG, true))).toBe("");
      });

      it("stops the cascade at a source that was not deleted", async () => {
        await store.create(createCommand("a", { data: bytes("aaa") }), T0);
        await store.create(createCommand("b", { fork: fork("a", 3) }), T0);
        await store.create(createCommand("c", { fork: fork("b", 3) }), T0);
        expect(await store.delete("b", T0)).toEqual({ soft: true });
        expect(await store.delete("c", T0)).toEqual({ soft: false });
        expect(await store.getStream("b")).toBeUndefined();
        expect(await store.getStream("a")).toMatchObject({ softDeleted: false, forkCount: 0 });
        expect(await contents("a")).toBe("aaa");
      });
    });

    describe("list", () => {
      beforeEach(async () => {
        for (const path of ["x/2", "y/1", "x/1", "x", "x/10", "xylophone"]) {
          await store.create(createCommand(path, { data: bytes(path) }), T0);
        }
      });
      const paths = async (prefix: string, after: string | null, limit: number) =>
        (await store.list(prefix, after, limit)).map((s) => s.path);

      it("lists by prefix in path order", async () => {
        expect(await paths("x/", null, 100)).toEqual(["x/1", "x/10", "x/2"]);
        expect(await paths("", null, 100)).toEqual(["x", "x/1", "x/10", "x/2", "xylophone", "y/1"]);
        expect(await paths("z", null, 100)).toEqual([]);
        const [first] = await store.list("x/1", null, 1);
        expect(first).toMatchObject({ path: "x/1", tail: 3 });
      });

      it("pages with after and limit", async () => {
        expect(await paths("x", null, 2)).toEqual(["x", "x/1"]);
        expect(await paths("x", "x/1", 2)).toEqual(["x/10", "x/2"]);
        expect(await paths("x", "x/2", 2)).toEqual(["xylophone"]);
        expect(await paths("x", "xylophone", 2)).toEqual([]);
        expect(await paths("", "a", 1)).toEqual(["x"]);
      });

      it("includes deleted streams kept for forks, flagged", async () => {
        await store.create(createCommand("x/fork", { fork: fork("x/1", 0) }), T0);
        await store.delete("x/1", T0);
        const listed = await store.list("x/1", null, 10);
        expect(listed.map((s) => [s.path, s.softDeleted])).toEqual([
          ["x/1", true],
          ["x/10", false],
        ]);
      });
    });

    describe("concurrency", () => {
      it("applies appends issued without waiting in order, at contiguous positions", async () => {
        await store.create(createCommand("c1"), T0);
        await store.create(createCommand("c2"), T0);
        const issued: { path: string; part: string; promise: Promise<AppendOutcome> }[] = [];
        for (let i = 0; i < 300; i++) {
          const path = i % 3 === 0 ? "c2" : "c1";
          const part = `<${i}>`;
          issued.push({ path, part, promise: store.append(appendCommand(path, part), T0) });
        }
        const outcomes = await Promise.all(issued.map((x) => x.promise));
        const expected: Record<string, string> = { c1: "", c2: "" };
        outcomes.forEach((outcome, i) => {
          const { path, part } = issued[i]!;
          expect(outcome.kind).toBe("appended");
          expect(outcome.start).toBe(expected[path]!.length);
          expected[path] += part;
        });
        expect(await contents("c1")).toBe(expected.c1);
        expect(await contents("c2")).toBe(expected.c2);
      });

      it("accepts a producer's pipelined sequence numbers", async () => {
        await store.create(createCommand("p"), T0);
        const sends = Array.from({ length: 100 }, (_, seq) =>
          store.append(appendCommand("p", `${seq},`, { producer: producer("w", 0, seq) }), T0),
        );
        const outcomes = await Promise.all(sends);
        outcomes.forEach((outcome, seq) => expect(outcome).toMatchObject({ kind: "appended", producer: { epoch: 0, seq } }));
        expect(await contents("p")).toBe(Array.from({ length: 100 }, (_, i) => `${i},`).join(""));
      });

      it("fails a refused request alone, without disturbing the others issued with it", async () => {
        await store.create(createCommand("k", { contentType: "text/plain" }), T0);
        const results = await Promise.allSettled([
          store.append(appendCommand("k", "one"), T0),
          store.append(appendCommand("k", "{}", { contentType: "application/json" }), T0),
          store.append(appendCommand("k", "two", { producer: producer("p", 0, 0) }), T0),
          store.append(appendCommand("nowhere", "x"), T0),
          store.append(appendCommand("k", "gap", { producer: producer("p", 0, 5) }), T0),
          store.create(createCommand("k", { contentType: "application/json" }), T0),
          store.append(appendCommand("k", "three"), T0),
        ]);
        const summary = results.map((r) =>
          r.status === "fulfilled" ? "ok" : (r.reason as ProtocolError).code,
        );
        expect(summary).toEqual([
          "ok",
          "CONTENT_TYPE_MISMATCH",
          "ok",
          "STREAM_NOT_FOUND",
          "PRODUCER_SEQ_GAP",
          "STREAM_EXISTS",
          "ok",
        ]);
        expect(await contents("k")).toBe("onetwothree");
      });

      it("orders creates, appends and deletes issued together as issued", async () => {
        const results = await Promise.allSettled([
          store.create(createCommand("n", { data: bytes("a") }), T0),
          store.create(createCommand("n", { data: bytes("a") }), T0),
          store.append(appendCommand("n", "b"), T0),
          store.delete("n", T0),
          store.append(appendCommand("n", "c"), T0),
          store.create(createCommand("n", { data: bytes("d") }), T0),
          store.append(appendCommand("n", "e"), T0),
        ]);
        const summary = results.map((r) => {
          if (r.status === "rejected") return (r.reason as ProtocolError).code;
          const value = r.value as { created?: boolean; kind?: string; soft?: boolean };
          return value.created ?? value.kind ?? `soft=${value.soft}`;
        });
        expect(summary).toEqual([true, false, "appended", "soft=false", "STREAM_NOT_FOUND", true, "appended"]);
        expect(await contents("n")).toBe("de");
      });
    });

    describe("durability across reopen", () => {
      const reopen = async () => {
        if (!harness.reopen) throw new Error("this store does not persist");
        store = await harness.reopen();
        return store;
      };
      // Memory-only stores have nothing to check here.
      const persistent = () => harness.reopen !== undefined;

      it("keeps streams, their data and tails", async (context) => {
        if (!persistent()) return context.skip();
        await store.create(createCommand("j", { contentType: "application/json", ttlSeconds: 600, data: bytes("1,") }), T0);
        await store.append(appendCommand("j", "2,3,", { streamSeq: "0007" }), T0 + 5);
        await store.create(createCommand("b", { expiresAt: T0 + 9e6, data: new Uint8Array([0, 255, 7]) }), T0);
        const before = { j: await store.getStream("j"), b: await store.getStream("b") };
        await reopen();
        expect(await store.getStream("j")).toEqual(before.j);
        expect(await store.getStream("b")).toEqual(before.b);
        expect(await contents("j")).toBe("1,2,3,");
        expect(Array.from(await store.readRange("b", 0, 3, BIG, true))).toEqual([0, 255, 7]);
        await refused(store.append(appendCommand("j", "4,", { streamSeq: "0007" }), T0), 409, "SEQUENCE_CONFLICT");
        expect((await store.append(appendCommand("j", "4,"), T0 + 6)).start).toBe(6);
      });

      it("keeps producer state", async (context) => {
        if (!persistent()) return context.skip();
        await store.create(createCommand("p"), T0);
        await store.append(appendCommand("p", "a", { producer: producer("w", 2, 0) }), T0);
        await store.append(appendCommand("p", "b", { producer: producer("w", 2, 1) }), T0);
        await reopen();
        expect(await store.append(appendCommand("p", "b", { producer: producer("w", 2, 1) }), T0)).toMatchObject({
          kind: "duplicate",
          producer: { epoch: 2, seq: 1 },
        });
        await refused(store.append(appendCommand("p", "x", { producer: producer("w", 1, 2) }), T0), 403, "PRODUCER_STALE_EPOCH");
        await refused(store.append(appendCommand("p", "x", { producer: producer("w", 2, 3) }), T0), 409, "PRODUCER_SEQ_GAP");
        expect((await store.append(appendCommand("p", "c", { producer: producer("w", 2, 2) }), T0)).kind).toBe("appended");
        expect(await contents("p")).toBe("abc");
      });

      it("keeps the closed flag and who closed it", async (context) => {
        if (!persistent()) return context.skip();
        await store.create(createCommand("c"), T0);
        const closing = appendCommand("c", "bye", { producer: producer("w", 0, 0), close: true });
        await store.append(closing, T0);
        await reopen();
        expect(await store.getStream("c")).toMatchObject({ closed: true, closedBy: { id: "w", epoch: 0, seq: 0 } });
        expect((await store.append(closing, T0)).kind).toBe("duplicate");
        await refused(store.append(appendCommand("c", "more"), T0), 409, "STREAM_CLOSED");
      });

      it("keeps soft deletes and fork counts", async (context) => {
        if (!persistent()) return context.skip();
        await store.create(createCommand("s", { data: bytes("src") }), T0);
        await store.create(createCommand("f1", { fork: fork("s", 3) }), T0);
        await store.create(createCommand("f2", { fork: fork("s", 1), data: bytes("x") }), T0);
        await store.delete("s", T0);
        await store.create(createCommand("gone", { data: bytes("bye") }), T0);
        await store.delete("gone", T0);
        await reopen();
        expect(await store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 2 });
        expect(await store.getStream("f2")).toMatchObject({ forkedFrom: "s", forkOffset: 1, tail: 2 });
        expect(await store.getStream("gone")).toBeUndefined();
        await store.delete("f1", T0);
        await reopen();
        expect(await store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 1 });
        await store.delete("f2", T0);
        await reopen();
        expect((await store.list("", null, 10)).map((s) => s.path)).toEqual([]);
      });

      it("keeps touches, and commits requests still queued at close", async (context) => {
        if (!persistent()) return context.skip();
        await store.create(createCommand("t", { ttlSeconds: 30 }), T0);
        await store.touch("t", T0 + 20 * SECOND);
        const pending = Array.from({ length: 50 }, (_, i) => store.append(appendCommand("t", `${i % 10}`), T0 + 21 * SECOND));
        const reopened = reopen();
        const outcomes = await Promise.all(pending);
        expect(outcomes.every((o) => o.kind === "appended")).toBe(true);
        await reopened;
        expect(await store.getStream("t")).toMatchObject({ tail: 50, lastAccessAt: T0 + 21 * SECOND });
        expect(await contents("t")).toBe("0123456789".repeat(5));

        await store.touch("t", T0 + 40 * SECOND);
        await reopen();
        expect((await store.getStream("t"))?.lastAccessAt).toBe(T0 + 40 * SECOND);
        expect(await store.sweepExpired(T0 + 60 * SECOND)).toEqual([]);
      });
    });
  });
}
