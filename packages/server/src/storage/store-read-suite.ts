import { beforeEach, describe, expect, it } from "vitest";
import type { AppendOutcome } from "../domain/commands.js";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, BIG, bytes, createCommand, fork, T0, text } from "./test-support.js";

/** Reading a stream's bytes: any window, whole batches or exact cuts. */
export function readRangeTests(suite: StoreSuite): void {
  const { tailOf } = suite;

  describe("readRange", () => {
    beforeEach(async () => {
      await suite.store.create(createCommand("r"), T0);
      for (const part of ["aaaaa", "bbbbb", "ccccc"]) await suite.store.append(appendCommand("r", part), T0);
    });

    const read = async (from: number, to: number, maxBytes: number, split: boolean) =>
      text(await suite.store.readRange("r", from, to, maxBytes, split));

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

    it("finds the batch holding a position; appends to a byte stream keep a batch each, even in one commit round", async () => {
      await suite.store.create(createCommand("one-round"), T0);
      await Promise.all(["a", "bb", "ccc"].map((part) => suite.store.append(appendCommand("one-round", part), T0)));
      const spans = [];
      for (const position of [0, 1, 2, 3, 4, 5]) {
        const batch = await suite.store.batchAt("one-round", position);
        spans.push(batch ? `${batch.start}:${text(batch.bytes)}` : "none");
      }
      expect(spans).toEqual(["0:a", "1:bb", "1:bb", "3:ccc", "3:ccc", "3:ccc"]);
      expect(await suite.store.batchAt("one-round", 6)).toBeUndefined();
      expect(await suite.store.batchAt("missing", 0)).toBeUndefined();
    });

    it("returns nothing at the tail or for a missing stream", async () => {
      expect(await read(15, 15, BIG, true)).toBe("");
      expect(text(await suite.store.readRange("missing", 0, 10, BIG, true))).toBe("");
    });

    it("reads any window of a long stream", async () => {
      await suite.store.create(createCommand("long"), T0);
      let expected = "";
      const pending: Promise<AppendOutcome>[] = [];
      for (let i = 0; i < 3000; i++) {
        const part = `${i}:${"x".repeat(i % 23)};`;
        expected += part;
        pending.push(suite.store.append(appendCommand("long", part), T0));
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
        const exact = text(await suite.store.readRange("long", from, to, maxBytes, true));
        expect(exact).toBe(expected.slice(from, Math.min(to, from + maxBytes)));
        const whole = text(await suite.store.readRange("long", from, to, maxBytes, false));
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
        const page = text(await suite.store.readRange("long", position, expected.length, 1000, false));
        rebuilt += page;
        position += page.length;
      }
      expect(rebuilt).toBe(expected);
    });
  });
}

/** Listing streams by prefix, in pages. */
export function listTests(suite: StoreSuite): void {
  describe("list", () => {
    beforeEach(async () => {
      for (const path of ["x/2", "y/1", "x/1", "x", "x/10", "xylophone"]) {
        await suite.store.create(createCommand(path, { data: bytes(path) }), T0);
      }
    });
    const paths = async (prefix: string, after: string | null, limit: number) =>
      (await suite.store.list(prefix, after, limit)).map((s) => s.path);

    it("lists by prefix in path order", async () => {
      expect(await paths("x/", null, 100)).toEqual(["x/1", "x/10", "x/2"]);
      expect(await paths("", null, 100)).toEqual(["x", "x/1", "x/10", "x/2", "xylophone", "y/1"]);
      expect(await paths("z", null, 100)).toEqual([]);
      const [first] = await suite.store.list("x/1", null, 1);
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
      await suite.store.create(createCommand("x/fork", { fork: fork("x/1", 0) }), T0);
      await suite.store.delete("x/1", T0);
      const listed = await suite.store.list("x/1", null, 10);
      expect(listed.map((s) => [s.path, s.softDeleted])).toEqual([
        ["x/1", true],
        ["x/10", false],
      ]);
    });
  });
}
