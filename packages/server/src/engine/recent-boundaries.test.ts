import { describe, expect, it } from "vitest";
import { streamState } from "../domain/test-fixtures.js";
import { MemoryStore } from "../storage/memory-store.js";
import { appendCommand, createCommand } from "../storage/test-support.js";
import { Engine } from "./engine.js";
import { RecentBoundaries } from "./recent-boundaries.js";

describe("RecentBoundaries", () => {
  it("knows what was noted for that very stream, keeps the newest few, and forgets a stream that went", () => {
    const memo = new RecentBoundaries(2, 3);
    const a = streamState({ path: "a", createdAt: 1 });
    for (const position of [10, 20, 30, 40]) memo.note(a, position);
    expect([10, 20, 30, 40].map((p) => memo.has(a, p))).toEqual([false, true, true, true]);
    // Another stream at the same path (made anew) knows none of them.
    expect(memo.has({ ...a, createdAt: 2 }, 40)).toBe(false);
    memo.forget("a");
    expect(memo.has(a, 40)).toBe(false);
  });

  it("holds at most its number of streams, letting the first noted go first", () => {
    const memo = new RecentBoundaries(2, 3);
    const [a, b, c] = ["a", "b", "c"].map((path) => streamState({ path, createdAt: 1 }));
    memo.note(a!, 1);
    memo.note(b!, 1);
    memo.note(c!, 1);
    expect([a, b, c].map((s) => memo.has(s!, 1))).toEqual([false, true, true]);
  });
});

describe("Engine: the offset rule at recent tails", () => {
  const json = { contentType: "application/json" };
  /** An engine over the memory store whose batch lookups are counted. */
  function setUp() {
    let clock = 1_700_000_000_000;
    const store = new MemoryStore();
    const lookups = { count: 0 };
    const batchAt = store.batchAt.bind(store);
    store.batchAt = (path, position) => {
      lookups.count++;
      return batchAt(path, position);
    };
    const engine = new Engine(store, { maxReadBytes: 1 << 20, sweepIntervalMs: 0, now: () => clock });
    return { engine, lookups, tick: (ms: number) => (clock += ms) };
  }
  const at = async (engine: Engine, path: string, position: number) =>
    (await engine.openRead(path, { kind: "position", position })).position;

  it("takes an offset an append left as the tail without looking at the stored batch; other offsets still snap", async () => {
    const { engine, lookups } = setUp();
    await engine.create(createCommand("s", json));
    await engine.append(appendCommand("s", '{"n":1},'));
    await engine.append(appendCommand("s", '{"n":2},'));
    await engine.append(appendCommand("s", '{"n":3},'));
    expect(await at(engine, "s", 8)).toBe(8);
    expect(await at(engine, "s", 16)).toBe(16);
    expect(lookups.count).toBe(0);
    // Inside the second message: its start.
    expect(await at(engine, "s", 12)).toBe(8);
    expect(lookups.count).toBe(1);
  });

  it("does not take an old stream's boundaries for the one made anew at its path", async () => {
    const { engine } = setUp();
    await engine.create(createCommand("s", json));
    await engine.append(appendCommand("s", '{"n":1},'));
    await engine.delete("s");
    // Made anew in the same millisecond: 8 is now inside its first message.
    await engine.create(createCommand("s", json));
    await engine.append(appendCommand("s", '{"long":"message"},'));
    expect(await at(engine, "s", 8)).toBe(0);
  });

  it("does not take an expired stream's boundaries for the one that replaced it", async () => {
    const { engine, tick } = setUp();
    await engine.create(createCommand("t", { ...json, ttlSeconds: 1 }));
    await engine.append(appendCommand("t", '{"n":1},'));
    tick(2000);
    await engine.create(createCommand("t", json));
    await engine.append(appendCommand("t", '{"long":"message"},'));
    expect(await at(engine, "t", 8)).toBe(0);
  });
});
