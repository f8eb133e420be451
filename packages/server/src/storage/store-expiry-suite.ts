import { describe, expect, it } from "vitest";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, BIG, bytes, createCommand, fork, SECOND, T0, text } from "./test-support.js";

/** Sliding and absolute expiry: touches, appends as access, and the sweeper. */
export function expiryTests(suite: StoreSuite): void {
  const { contents } = suite;

  describe("touch and expiry", () => {
    it("restarts a sliding TTL on touch, visible at once", async () => {
      await suite.store.create(createCommand("t", { ttlSeconds: 10 }), T0);
      await suite.store.touch("t", T0 + 8 * SECOND);
      expect((await suite.store.getStream("t"))?.lastAccessAt).toBe(T0 + 8 * SECOND);
      expect(await suite.store.sweepExpired(T0 + 12 * SECOND)).toEqual([]);
      expect(await suite.store.getStream("t")).toBeDefined();
      expect(await suite.store.sweepExpired(T0 + 18 * SECOND)).toEqual(["t"]);
      expect(await suite.store.getStream("t")).toBeUndefined();
    });

    it("counts an append as access", async () => {
      await suite.store.create(createCommand("t", { ttlSeconds: 10 }), T0);
      await suite.store.append(appendCommand("t", "x"), T0 + 9 * SECOND);
      expect(await suite.store.sweepExpired(T0 + 12 * SECOND)).toEqual([]);
      expect(await contents("t")).toBe("x");
    });

    it("sweeps streams past their absolute expiry, and only those", async () => {
      await suite.store.create(createCommand("abs", { expiresAt: T0 + 5 * SECOND, data: bytes("abc") }), T0);
      await suite.store.create(createCommand("forever", { data: bytes("keep") }), T0);
      await suite.store.create(createCommand("later", { ttlSeconds: 60 }), T0);
      await suite.store.touch("abs", T0 + 4 * SECOND); // no sliding TTL: touching does not extend it
      expect(await suite.store.sweepExpired(T0 + 4 * SECOND)).toEqual([]);
      expect(await suite.store.sweepExpired(T0 + 5 * SECOND)).toEqual(["abs"]);
      expect(await suite.store.getStream("abs")).toBeUndefined();
      expect(text(await suite.store.readRange("abs", 0, 3, BIG, true))).toBe("");
      expect((await suite.store.list("", null, 10)).map((s) => s.path)).toEqual(["forever", "later"]);
    });

    it("keeps an expired stream that forks read through, hidden, until its last fork goes", async () => {
      await suite.store.create(createCommand("s", { ttlSeconds: 10, data: bytes("shared") }), T0);
      await suite.store.create(createCommand("f", { fork: fork("s", 6), ttlSeconds: 3600 }), T0);
      expect(await suite.store.sweepExpired(T0 + 11 * SECOND)).toEqual(["s"]);
      expect(await suite.store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 1 });
      expect(text(await suite.store.readRange("s", 0, 6, BIG, true))).toBe("shared");
      expect(await suite.store.sweepExpired(T0 + 12 * SECOND)).toEqual([]);
      await suite.store.delete("f", T0 + 13 * SECOND);
      expect(await suite.store.getStream("s")).toBeUndefined();
    });
  });
}
