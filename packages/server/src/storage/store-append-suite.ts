import { formatOffset, HEADER } from "@rill/protocol";
import { beforeEach, describe, expect, it } from "vitest";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, createCommand, fork, producer, refused, SECOND, T0 } from "./test-support.js";
import { errorHeaders } from "../http/error-statuses.js";

/** Appending: tails, refusals, closing, idempotent producers and Stream-Seq. */
export function appendTests(suite: StoreSuite): void {
  const { contents } = suite;

  describe("append", () => {
    beforeEach(async () => {
      await suite.store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 60 }), T0);
    });

    it("moves the tail and reports where the bytes start", async () => {
      const first = await suite.store.append(appendCommand("a", "abc"), T0 + 1);
      expect(first).toMatchObject({ kind: "appended", start: 0, producer: null });
      expect(first.stream.tail).toBe(3);
      const second = await suite.store.append(appendCommand("a", "de"), T0 + 2);
      expect(second.start).toBe(3);
      expect(second.stream.tail).toBe(5);
      expect(await suite.store.getStream("a")).toMatchObject({ tail: 5, lastAccessAt: T0 + 2 });
      expect(await contents("a")).toBe("abcde");
    });

    it("refuses a content type that does not match the stream's with 409", async () => {
      await refused(suite.store.append(appendCommand("a", "{}", { contentType: "application/json" }), T0), 409, "CONTENT_TYPE_MISMATCH");
      await suite.store.append(appendCommand("a", "ok", { contentType: "TEXT/plain; charset=utf-8" }), T0);
      expect(await contents("a")).toBe("ok");
    });

    it("refuses a missing stream with 404 and a deleted one kept for forks with 410", async () => {
      await refused(suite.store.append(appendCommand("missing", "x"), T0), 404, "STREAM_NOT_FOUND");
      await suite.store.create(createCommand("f", { contentType: null, fork: fork("a", 0) }), T0);
      await suite.store.delete("a", T0);
      await refused(suite.store.append(appendCommand("a", "x"), T0), 410, "STREAM_GONE");
    });

    it("refuses an expired stream with 404", async () => {
      await refused(suite.store.append(appendCommand("a", "late"), T0 + 61 * SECOND), 404, "STREAM_NOT_FOUND");
    });

    it("closes with a final append and refuses later appends with 409 and the stream-closed header", async () => {
      await suite.store.append(appendCommand("a", "abc"), T0);
      const closing = await suite.store.append(appendCommand("a", "end", { close: true }), T0);
      expect(closing.kind).toBe("appended");
      expect(closing.stream).toMatchObject({ closed: true, tail: 6 });
      const error = await refused(suite.store.append(appendCommand("a", "more"), T0), 409, "STREAM_CLOSED");
      expect(errorHeaders(error)[HEADER.streamClosed]).toBe("true");
      expect(errorHeaders(error)[HEADER.streamNextOffset]).toBe(formatOffset(6));
      expect(await contents("a")).toBe("abcend");
    });

    it("closes without data, and a repeated close is a harmless duplicate", async () => {
      await suite.store.append(appendCommand("a", "abc"), T0);
      const close = await suite.store.append(appendCommand("a", "", { close: true }), T0);
      expect(close.kind).toBe("appended");
      expect(close.stream).toMatchObject({ closed: true, tail: 3 });
      const again = await suite.store.append(appendCommand("a", "", { close: true }), T0);
      expect(again.kind).toBe("duplicate");
      expect(again.stream.tail).toBe(3);
      expect((await suite.store.getStream("a"))?.closed).toBe(true);
    });

    it("runs the idempotent producer rules", async () => {
      const send = (data: string, epoch: number, seq: number, id = "p") =>
        suite.store.append(appendCommand("a", data, { producer: producer(id, epoch, seq) }), T0);

      expect(await send("m0", 0, 0)).toMatchObject({ kind: "appended", start: 0, producer: { epoch: 0, seq: 0 } });
      const duplicate = await send("m0", 0, 0);
      expect(duplicate).toMatchObject({ kind: "duplicate", start: 2, producer: { epoch: 0, seq: 0 } });
      expect(await send("m1", 0, 1)).toMatchObject({ kind: "appended", start: 2, producer: { epoch: 0, seq: 1 } });

      const gap = await refused(send("m3", 0, 3), 409, "PRODUCER_SEQ_GAP");
      expect(errorHeaders(gap)[HEADER.producerExpectedSeq]).toBe("2");
      expect(errorHeaders(gap)[HEADER.producerReceivedSeq]).toBe("3");

      expect(await send("n0", 1, 0)).toMatchObject({ kind: "appended", producer: { epoch: 1, seq: 0 } });
      const stale = await refused(send("old", 0, 2), 403, "PRODUCER_STALE_EPOCH");
      expect(errorHeaders(stale)[HEADER.producerEpoch]).toBe("1");
      await refused(send("bad", 2, 1), 400, "PRODUCER_BAD_EPOCH_START");

      // Producers are independent of each other.
      expect(await send("q0", 0, 0, "q")).toMatchObject({ kind: "appended", producer: { epoch: 0, seq: 0 } });
      expect(await send("n1", 1, 1)).toMatchObject({ kind: "appended", producer: { epoch: 1, seq: 1 } });
      expect(await contents("a")).toBe("m0m1n0q0n1");
    });

    it("treats a retry of the producer request that closed the stream as a duplicate", async () => {
      const closing = appendCommand("a", "last", { producer: producer("p", 3, 0), close: true });
      expect((await suite.store.append(closing, T0)).kind).toBe("appended");
      const retry = await suite.store.append(closing, T0 + 1);
      expect(retry).toMatchObject({ kind: "duplicate", producer: { epoch: 3, seq: 0 } });
      await refused(suite.store.append(appendCommand("a", "x", { producer: producer("q", 0, 0) }), T0), 409, "STREAM_CLOSED");
      expect(await contents("a")).toBe("last");
    });

    it("requires Stream-Seq values to increase", async () => {
      await suite.store.append(appendCommand("a", "1", { streamSeq: "b" }), T0);
      await refused(suite.store.append(appendCommand("a", "2", { streamSeq: "a" }), T0), 409, "SEQUENCE_CONFLICT");
      await refused(suite.store.append(appendCommand("a", "3", { streamSeq: "b" }), T0), 409, "SEQUENCE_CONFLICT");
      await suite.store.append(appendCommand("a", "4"), T0);
      await suite.store.append(appendCommand("a", "5", { streamSeq: "c" }), T0);
      expect((await suite.store.getStream("a"))?.lastStreamSeq).toBe("c");
      expect(await contents("a")).toBe("145");
    });
  });
}
