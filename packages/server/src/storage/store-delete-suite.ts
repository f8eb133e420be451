import { describe, expect, it } from "vitest";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, BIG, bytes, createCommand, fork, producer, refused, T0, text } from "./test-support.js";

/** Deleting streams, and how deletes cascade through fork chains. */
export function deleteTests(suite: StoreSuite): void {
  const { contents, tailOf } = suite;

  describe("delete", () => {
    it("removes a stream with its data and producer state", async () => {
      await suite.store.create(createCommand("d", { data: bytes("abc") }), T0);
      for (let seq = 0; seq < 3; seq++) {
        await suite.store.append(appendCommand("d", "x", { producer: producer("p", 0, seq) }), T0);
      }
      expect(await suite.store.delete("d", T0)).toEqual({ soft: false });
      expect(await suite.store.getStream("d")).toBeUndefined();
      expect(text(await suite.store.readRange("d", 0, 6, BIG, true))).toBe("");
      expect(await suite.store.list("", null, 10)).toEqual([]);

      await suite.store.create(createCommand("d"), T0 + 1);
      expect(await tailOf("d")).toBe(0);
      await refused(suite.store.append(appendCommand("d", "y", { producer: producer("p", 0, 3) }), T0), 409, "PRODUCER_SEQ_GAP");
      expect((await suite.store.append(appendCommand("d", "y", { producer: producer("p", 0, 0) }), T0)).kind).toBe("appended");
      expect(await contents("d")).toBe("y");
    });

    it("counts stored streams, deleted ones kept for forks included", async () => {
      expect(await suite.store.countStreams()).toBe(0);
      await suite.store.create(createCommand("c1", { data: bytes("abc") }), T0);
      await suite.store.create(createCommand("c2"), T0);
      await suite.store.create(createCommand("c3", { fork: fork("c1", 3) }), T0);
      expect(await suite.store.countStreams()).toBe(3);
      await suite.store.delete("c1", T0);
      expect(await suite.store.countStreams()).toBe(3);
      await suite.store.delete("c2", T0);
      await suite.store.delete("c3", T0);
      expect(await suite.store.countStreams()).toBe(0);
    });

    it("deleting a missing stream changes nothing", async () => {
      await suite.store.create(createCommand("x"), T0);
      expect(await suite.store.delete("nope", T0)).toEqual({ soft: false });
      expect(await suite.store.getStream("x")).toBeDefined();
    });

    it("only hides a stream forks read through, and removes it with its last fork", async () => {
      await suite.store.create(createCommand("s", { data: bytes("base") }), T0);
      await suite.store.create(createCommand("f1", { fork: fork("s", 4) }), T0);
      await suite.store.create(createCommand("f2", { fork: fork("s", 2) }), T0);
      expect(await suite.store.delete("s", T0)).toEqual({ soft: true });
      expect(await suite.store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 2 });
      expect(await contents("s")).toBe("base");

      expect(await suite.store.delete("f1", T0)).toEqual({ soft: false });
      expect(await suite.store.getStream("s")).toMatchObject({ softDeleted: true, forkCount: 1 });
      expect(await suite.store.delete("f2", T0)).toEqual({ soft: false });
      expect(await suite.store.getStream("s")).toBeUndefined();
      expect(await suite.store.list("", null, 10)).toEqual([]);
    });

    it("cascades up a three-deep fork chain", async () => {
      await suite.store.create(createCommand("a", { data: bytes("aaa") }), T0);
      await suite.store.create(createCommand("b", { fork: fork("a", 3), data: bytes("bb") }), T0);
      await suite.store.create(createCommand("c", { fork: fork("b", 5), data: bytes("c") }), T0);
      expect(await suite.store.delete("a", T0)).toEqual({ soft: true });
      expect(await suite.store.delete("b", T0)).toEqual({ soft: true });
      expect(await suite.store.getStream("a")).toMatchObject({ softDeleted: true, forkCount: 1 });
      expect(await suite.store.getStream("b")).toMatchObject({ softDeleted: true, forkCount: 1 });
      expect(await suite.store.delete("c", T0)).toEqual({ soft: false });
      for (const path of ["a", "b", "c"]) expect(await suite.store.getStream(path)).toBeUndefined();
      expect(text(await suite.store.readRange("a", 0, 3, BIG, true))).toBe("");
    });

    it("stops the cascade at a source that was not deleted", async () => {
      await suite.store.create(createCommand("a", { data: bytes("aaa") }), T0);
      await suite.store.create(createCommand("b", { fork: fork("a", 3) }), T0);
      await suite.store.create(createCommand("c", { fork: fork("b", 3) }), T0);
      expect(await suite.store.delete("b", T0)).toEqual({ soft: true });
      expect(await suite.store.delete("c", T0)).toEqual({ soft: false });
      expect(await suite.store.getStream("b")).toBeUndefined();
      expect(await suite.store.getStream("a")).toMatchObject({ softDeleted: false, forkCount: 0 });
      expect(await contents("a")).toBe("aaa");
    });
  });
}
