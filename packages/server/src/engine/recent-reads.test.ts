import { describe, expect, it } from "vitest";
import { streamState } from "../domain/test-fixtures.js";
import { MemoryStore } from "../storage/memory-store.js";
import { appendCommand, createCommand, text } from "../storage/test-support.js";
import { Engine } from "./engine.js";
import { RecentReads } from "./recent-reads.js";
import type { ReadResult } from "./stream-reads.js";

const read = (bytes: number): ReadResult => ({ data: new Uint8Array(bytes), next: bytes, upToDate: true, gaps: [] });

describe("RecentReads", () => {
  const kept = (memo: RecentReads, stream: ReturnType<typeof streamState>, from: number) => {
    let ran = false;
    void memo.read(stream, from, async () => {
      ran = true;
      return read(1);
    });
    return !ran;
  };

  it("gives a read back only for the same stream state and start, while it runs and after", async () => {
    const memo = new RecentReads();
    const s = streamState({ path: "s", createdAt: 1, tail: 10 });
    const first = memo.read(s, 0, async () => read(10));
    expect(memo.read(s, 0, async () => read(99))).toBe(first);
    await first;
    expect(await memo.read(s, 0, async () => read(99))).toBe(await first);
    expect(kept(memo, s, 2)).toBe(false);
    for (const other of [{ tail: 12 }, { createdAt: 2 }, { earliest: 4 }, { removedBytes: 3 }, { path: "t" }]) {
      expect(kept(memo, { ...s, ...other }, 0)).toBe(false);
    }
  });

  it("does not keep a read that failed", async () => {
    const memo = new RecentReads();
    const s = streamState({ path: "s", tail: 10 });
    await expect(memo.read(s, 0, async () => Promise.reject(new Error("disk")))).rejects.toThrow("disk");
    expect(await memo.read(s, 0, async () => read(10))).toMatchObject({ next: 10 });
  });

  it("holds at most its bytes and its number of reads, letting the oldest go", async () => {
    const memo = new RecentReads(25, 3);
    const s = streamState({ path: "s", tail: 100 });
    for (const from of [0, 1, 2]) await memo.read(s, from, async () => read(10)); // 30 bytes: the first goes
    expect([1, 2].map((from) => kept(memo, s, from))).toEqual([true, true]);
    expect(kept(memo, s, 0)).toBe(false);
  });
});

describe("Engine: readers of one range share one read", () => {
  it("asks the store once per range and state, and again once the stream has changed", async () => {
    const store = new MemoryStore();
    let reads = 0;
    const readRange = store.readRange.bind(store);
    store.readRange = (...args) => {
      reads++;
      return readRange(...args);
    };
    const engine = new Engine(store, { maxReadBytes: 1 << 20, sweepIntervalMs: 0 });
    await engine.create(createCommand("s"));
    await engine.append(appendCommand("s", "abc"));
    await engine.append(appendCommand("s", "de"));
    const readers = await Promise.all(
      Array.from({ length: 5 }, async () => text((await engine.read(await engine.live("s"), 3)).data)),
    );
    expect(readers).toEqual(Array(5).fill("de"));
    expect(reads).toBe(1);

    await engine.append(appendCommand("s", "f"));
    expect(text((await engine.read(await engine.live("s"), 3)).data)).toBe("def");
    expect(reads).toBe(2);
  });
});
