import { describe, expect, it } from "vitest";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, BIG, bytes, createCommand, fork, refused, SECOND, T0, text } from "./test-support.js";
import { errorHeaders } from "../http/error-statuses.js";

const json = "application/json";
const AGE_15S = { maxAgeSeconds: 15, maxBytes: null };

/** Retention (head trimming) and the compaction rewrite, through the Store interface. */
export function retentionTests(suite: StoreSuite): void {
  const { contents } = suite;

  /** A stream with batches "aaaaa" at T0, "bbbbb" at T0+10s, "ccccc" at T0+20s. */
  async function threeBatches(path: string, fields: Parameters<typeof createCommand>[1] = {}) {
    await suite.store.create(createCommand(path, fields), T0);
    await suite.store.append(appendCommand(path, "aaaaa"), T0);
    await suite.store.append(appendCommand(path, "bbbbb"), T0 + 10 * SECOND);
    await suite.store.append(appendCommand(path, "ccccc"), T0 + 20 * SECOND);
  }

  describe("retention", () => {
    it("removes whole batches older than the age limit, keeping offsets", async () => {
      await threeBatches("r");
      expect(await suite.store.retain("r", AGE_15S, T0 + 14 * SECOND)).toBeNull();
      const outcome = await suite.store.retain("r", AGE_15S, T0 + 30 * SECOND);
      expect(outcome).toMatchObject({ removedBytes: 10, removedCount: 2, stream: { earliest: 10, removedBytes: 10, tail: 15 } });
      expect(await suite.store.getStream("r")).toMatchObject({ earliest: 10, removedBytes: 10 });
      expect(await contents("r", 10)).toBe("ccccc");
      expect(text(await suite.store.readRange("r", 12, 15, BIG, true))).toBe("ccc");
      // Appends go on at the same positions.
      await suite.store.append(appendCommand("r", "dd"), T0 + 31 * SECOND);
      expect(await contents("r", 10)).toBe("cccccdd");
      // Everything is old enough later on: the age limit may empty the stream.
      const all = await suite.store.retain("r", AGE_15S, T0 + 60 * SECOND);
      expect(all?.stream).toMatchObject({ earliest: 17, tail: 17, removedBytes: 17 });
    });

    it("removes head batches beyond the size limit, always keeping the newest", async () => {
      await threeBatches("r");
      const outcome = await suite.store.retain("r", { maxAgeSeconds: null, maxBytes: 7 }, T0 + 30 * SECOND);
      expect(outcome?.stream.earliest).toBe(10);
      expect(await contents("r", 10)).toBe("ccccc");
      expect(await suite.store.retain("r", { maxAgeSeconds: null, maxBytes: 1 }, T0 + 30 * SECOND)).toBeNull();
      expect(await contents("r", 10)).toBe("ccccc");
    });

    it("never removes what a fork still reads, until the fork lets go", async () => {
      await threeBatches("s");
      await suite.store.create(createCommand("f", { fork: fork("s", 10) }), T0 + 21 * SECOND);
      expect(await suite.store.getStream("f")).toMatchObject({ earliest: 0, forkOffset: 10 });
      expect(await suite.store.retain("s", { maxAgeSeconds: 1, maxBytes: null }, T0 + 100 * SECOND)).toBeNull();
      expect(await contents("s")).toBe("aaaaabbbbbccccc");
      // The fork's own policy moves its earliest past what it inherited (the inherited range counts
      // as appended when the fork was made): then the source may drop that range.
      const forkTrim = await suite.store.retain("f", { maxAgeSeconds: 60, maxBytes: null }, T0 + 100 * SECOND);
      expect(forkTrim).toMatchObject({ removedBytes: 0, stream: { earliest: 10 } });
      const sourceTrim = await suite.store.retain("s", { maxAgeSeconds: 1, maxBytes: null }, T0 + 100 * SECOND);
      expect(sourceTrim?.stream.earliest).toBe(10);
      expect(await contents("s", 10)).toBe("ccccc");
    });

    it("refuses a fork below the source's earliest retained offset (410)", async () => {
      await threeBatches("s");
      await suite.store.retain("s", AGE_15S, T0 + 30 * SECOND);
      const error = await refused(suite.store.create(createCommand("f", { fork: fork("s", 5) }), T0 + 31 * SECOND), 410, "OFFSET_RETAINED");
      expect(errorHeaders(error)["rill-earliest-offset"]).toBe("0000000000000000_0000000000000010");
      await suite.store.create(createCommand("g", { fork: fork("s", 12) }), T0 + 31 * SECOND);
      expect(await suite.store.getStream("g")).toMatchObject({ earliest: 10, forkOffset: 12 });
    });

    it("keeps each stream's policy, earliest offset and removed bytes across a restart", async () => {
      if (!suite.harness.reopen) return;
      const compaction = { keyPointers: ["/id"], tombstoneAgeSeconds: 60 };
      await threeBatches("r", { retention: { maxAgeSeconds: 15, maxBytes: 1000 } });
      await suite.store.create(createCommand("c", { contentType: json, compaction }), T0);
      await suite.store.retain("r", AGE_15S, T0 + 30 * SECOND);
      await suite.reopen();
      expect(await suite.store.getStream("r")).toMatchObject({
        retention: { maxAgeSeconds: 15, maxBytes: 1000 },
        compaction: null,
        earliest: 10,
        removedBytes: 10,
      });
      expect(await suite.store.getStream("c")).toMatchObject({ retention: null, compaction });
      expect(await contents("r", 10)).toBe("ccccc");
      expect((await suite.store.scanBatches("r", 0, 15, 10)).map((b) => b.appendedAt)).toEqual([T0 + 20 * SECOND]);
    });
  });

  describe("compaction rewrites", () => {
    /** JSON stream "j": batch `1,2,` at 0 (T0), batch `3,` at 4 (T0+1s). */
    async function jsonStream() {
      await suite.store.create(createCommand("j", { contentType: json }), T0);
      await suite.store.append(appendCommand("j", "1,2,"), T0);
      await suite.store.append(appendCommand("j", "3,"), T0 + SECOND);
    }

    it("replaces a batch by its pieces at their original positions", async () => {
      await jsonStream();
      const rewrite = { start: 0, size: 4, appendedAt: T0, pieces: [{ start: 2, bytes: bytes("2,") }], removedMessages: 1 };
      const outcome = await suite.store.compact("j", [rewrite]);
      expect(outcome).toMatchObject({ removedBytes: 2, removedCount: 1, stream: { removedBytes: 2, tail: 6 } });
      const read = await suite.store.readRange("j", 0, 6, BIG, false);
      expect(text(read)).toBe("2,3,");
      expect(read.end).toBe(6);
      expect(read.gaps).toEqual([{ index: 0, skipped: 2 }]);
      // A reader resuming inside the emptied range goes on with what is kept.
      expect(text(await suite.store.readRange("j", 1, 6, BIG, false))).toBe("2,3,");
      expect(await suite.store.scanBatches("j", 0, 6, 10)).toMatchObject([
        { start: 2, appendedAt: T0 },
        { start: 4, appendedAt: T0 + SECOND },
      ]);
      // The same plan again no longer matches what is stored: nothing happens.
      expect(await suite.store.compact("j", [rewrite])).toMatchObject({ removedBytes: 0, removedCount: 0 });
    });

    it("reads across emptied positions up to the tail", async () => {
      await jsonStream();
      await suite.store.compact("j", [{ start: 4, size: 2, appendedAt: T0 + SECOND, pieces: [], removedMessages: 1 }]);
      const read = await suite.store.readRange("j", 4, 6, BIG, false);
      expect(read).toMatchObject({ end: 6, gaps: [] });
      expect(read.data).toHaveLength(0);
      const small = await suite.store.readRange("j", 0, 6, 2, true);
      expect(text(small)).toBe("1,");
      expect(small.end).toBe(2);
    });

    it("leaves a stream with forks alone", async () => {
      await jsonStream();
      await suite.store.create(createCommand("f", { contentType: json, fork: fork("j", 6) }), T0 + 2 * SECOND);
      const rewrite = { start: 0, size: 4, appendedAt: T0, pieces: [], removedMessages: 2 };
      expect(await suite.store.compact("j", [rewrite])).toBeNull();
      expect(await contents("j")).toBe("1,2,3,");
    });
  });
}
