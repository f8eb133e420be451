import { describe, expect, it } from "vitest";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, BIG, bytes, createCommand, fork, producer, refused, SECOND, T0 } from "./test-support.js";

/** What a persistent store keeps across close and reopen (skipped for memory-only stores). */
export function durabilityTests(suite: StoreSuite): void {
  const { contents } = suite;

  describe("durability across reopen", () => {
    // Memory-only stores have nothing to check here.
    const persistent = () => suite.harness.reopen !== undefined;

    it("keeps streams, their data and tails", async (context) => {
      if (!persistent()) return context.skip();
      await suite.store.create(createCommand("j", { contentType: "application/json", ttlSeconds: 600, data: bytes("1,") }), T0);
      await suite.store.append(appendCommand("j", "2,3,", { streamSeq: "0007" }), T0 + 5);
      await suite.store.create(createCommand("b", { expiresAt: T0 + 9e6, data: new Uint8Array([0, 255, 7]) }), T0);
      const before = { j: await suite.store.getStream("j"), b: await suite.store.getStream("b") };
      await suite.reopen();
      expect(await suite.store.getStream("j")).toEqual(before.j);
      expect(await suite.store.getStream("b")).toEqual(before.b);
      expect(await contents("j")).toBe("1,2,3,");
      expect(Array.from((await suite.store.readRange("b", 0, 3, BIG, true)).data)).toEqual([0, 255, 7]);
      await refused(suite.store.append(appendCommand("j", "4,", { streamSeq: "0007" }), T0), 409, "SEQUENCE_CONFLICT");
      expect((await suite.store.append(appendCommand("j", "4,"), T0 + 6)).start).toBe(6);
    });

    it("keeps producer state", async (context) => {
      if (!persistent()) return context.skip();
      await suite.store.create(createCommand("p"), T0);
      await suite.store.append(appendCommand("p", "a", { producer: producer("w", 2, 0) }), T0);
      await suite.store.append(appendCommand("p", "b", { producer: producer("w", 2, 1) }), T0);
      await suite.reopen();
      expect(await suite.store.append(appendCommand("p", "b", { producer: producer("w", 2, 1) }), T0)).toMatchObject({
        kind: "duplicate",
        producer: { epoch: 2, seq: 1 },
      });
      await refused(suite.store.append(appendCommand("p", "x", { producer: producer("w", 1, 2) }), T0), 403, "PRODUCER_STALE_EPOCH");
      await refused(suite.store.append(appendCommand("p", "x", { producer: producer("w", 2, 3) }), T0), 409, "PRODUCER_SEQ_GAP");
      expect((await suite.store.append(appendCommand("p", "c", { producer: producer("w", 2, 2) }), T0)).kind).toBe("appended");
      expect(await contents("p")).toBe("abc");
    });

    it("keeps the closed flag and who closed it", async (context) => {
      if (!persistent()) return context.skip();
      await suite.store.create(createCommand("c"), T0);
      const closing = appendCommand("c", "bye", { producer: producer("w", 0, 0), close: true });
      await suite.store.append(closing, T0);
      await suite.reopen();
      expect(await suite.store.getStream("c")).toMatchObject({ closed: true, closedBy: { id: "w", epoch: 0, seq: 0 } });
      expect((await suite.store.append(closing, T0)).kind).toBe("duplicate");
      await refused(suite.store.append(appendCommand("c", "more"), T0), 409, "STREAM_CLOSED");
    });

    it("keeps soft deletes and fork counts", async (context) => {
      if (!persistent()) return context.skip();
      await suite.store.create(createCommand("s", { data: bytes("src") }), T0);
      await suite.store.create(createCommand("f1", { fork: fork("s", 3) }), T0);
      await suite.store.create(createCommand("f2", { fork: fork("s", 1), data: bytes("x") }), T0);
      await suite.store.delete("s", T0);
      await suite.store.create(createCommand("gone", { data: bytes("bye") }), T0);
      await suite.store.delete("gone", T0);
      await suite.reopen();
      expect(await suite.store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 2 });
      expect(await suite.store.getStream("f2")).toMatchObject({ forkedFrom: "s", forkOffset: 1, tail: 2 });
      expect(await suite.store.getStream("gone")).toBeUndefined();
      await suite.store.delete("f1", T0);
      await suite.reopen();
      expect(await suite.store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 1 });
      await suite.store.delete("f2", T0);
      await suite.reopen();
      expect((await suite.store.list("", null, 10)).map((s) => s.path)).toEqual([]);
    });

    it("keeps touches, and commits requests still queued at close", async (context) => {
      if (!persistent()) return context.skip();
      await suite.store.create(createCommand("t", { ttlSeconds: 30 }), T0);
      await suite.store.touch("t", T0 + 20 * SECOND);
      const pending = Array.from({ length: 50 }, (_, i) => suite.store.append(appendCommand("t", `${i % 10}`), T0 + 21 * SECOND));
      const reopened = suite.reopen();
      const outcomes = await Promise.all(pending);
      expect(outcomes.every((o) => o.kind === "appended")).toBe(true);
      await reopened;
      expect(await suite.store.getStream("t")).toMatchObject({ tail: 50, lastAccessAt: T0 + 21 * SECOND });
      expect(await contents("t")).toBe("0123456789".repeat(5));

      await suite.store.touch("t", T0 + 40 * SECOND);
      await suite.reopen();
      expect((await suite.store.getStream("t"))?.lastAccessAt).toBe(T0 + 40 * SECOND);
      expect(await suite.store.sweepExpired(T0 + 60 * SECOND)).toEqual([]);
    });
  });
}
