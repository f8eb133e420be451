import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteBatchCache } from "./sqlite-batch-cache.js";
import { SqliteStore } from "./sqlite-store.js";
import { appendCommand, BIG, createCommand, T0, text } from "./test-support.js";

// Large batches are read from SQLite once and shared by every reader; what a
// reader gets must still be exactly what is stored, through deletes, stream
// ids reused by a new stream, retention and compaction.

const large = (letter: string, size = 100_000) => letter.repeat(size);

describe("SQLite batch cache", () => {
  let dataDir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "rill-batch-cache-"));
    store = new SqliteStore({ dataDir });
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const read = async (path: string, from = 0) => {
    const stream = (await store.getStream(path))!;
    return store.readRange(path, from, stream.tail, BIG, true);
  };

  it("serves a large batch from one SQLite read to every reader, and small ones inline", async () => {
    await store.create(createCommand("s"), T0);
    await store.append(appendCommand("s", large("a")), T0);
    await store.append(appendCommand("s", "tiny"), T0 + 1);
    const reads = [await read("s"), await read("s"), await read("s")];
    for (const { data } of reads) expect(text(data)).toBe(large("a") + "tiny");
    // A read that is one large batch is that batch's bytes: read from SQLite by the first two readers
    // (a batch is kept once it is read again), shared from the third on.
    const whole = async () => (await store.readRange("s", 0, 100_000, BIG, true)).data.buffer;
    const [third, fourth] = [await whole(), await whole()];
    expect(third).toBe(fourth);
  });

  it("never hands a deleted stream's bytes to the stream made anew under its name", async () => {
    await store.create(createCommand("s"), T0);
    await store.append(appendCommand("s", large("a")), T0);
    expect(text((await read("s")).data)).toBe(large("a"));
    await store.delete("s");
    // A batch at the same start and of the same length as the cached one.
    await store.create(createCommand("s"), T0 + 1);
    await store.append(appendCommand("s", large("b")), T0 + 1);
    expect(text((await read("s")).data)).toBe(large("b"));
  });

  it("reads what retention and compaction left, not what was cached before them", async () => {
    const messages = Array.from({ length: 400 }, (_, i) => JSON.stringify({ key: `k${i % 2}`, pad: large("x", 200), i }));
    await store.create(createCommand("j", { contentType: "application/json" }), T0);
    await store.append(appendCommand("j", messages.map((m) => `${m},`).join(""), { contentType: "application/json" }), T0);
    const before = await read("j");
    const size = before.data.length;
    expect(size).toBeGreaterThan(16 * 1024);
    // Compaction keeps the last message of each key, at its own position: a shorter batch at the same start.
    const kept = [messages[398]!, messages[399]!].map((m) => `${m},`);
    const lastStart = size - Buffer.byteLength(kept[0]! + kept[1]!);
    await store.compact("j", [
      { start: 0, size, appendedAt: T0, pieces: [{ start: lastStart, bytes: Buffer.from(kept.join("")) }], removedMessages: 398 },
    ]);
    expect(text((await read("j", 0)).data)).toBe(kept.join(""));
    await store.retain("j", { maxAgeSeconds: null, maxBytes: 0 }, T0 + 10_000);
    const after = await store.getStream("j");
    expect(text((await store.readRange("j", after!.earliest, after!.tail, BIG, true)).data)).toBe(
      after!.earliest >= after!.tail ? "" : kept.join("").slice(after!.earliest - lastStart),
    );
  });

  it("keeps nothing a lone reader reads once", () => {
    const cache = new SqliteBatchCache(1024 * 1024);
    for (let i = 0; i < 100; i++) cache.offer(1, i * 1024, new Uint8Array(1024));
    for (let i = 0; i < 100; i++) expect(cache.get(1, i * 1024, 1024)).toBeUndefined();
  });

  it("keeps at most its budget, dropping the older half first", () => {
    const cache = new SqliteBatchCache(4 * 1024);
    const batch = (n: number) => new Uint8Array(1024).fill(n);
    // Offered twice: read by two readers.
    for (let i = 0; i < 6; i++) for (let k = 0; k < 2; k++) cache.offer(1, i * 1024, batch(i));
    // Two generations of at most 2 KiB each: the newest four are kept (hits in the current one move
    // nothing), the first two are gone.
    expect(cache.get(1, 5 * 1024, 1024)?.[0]).toBe(5);
    expect(cache.get(1, 4 * 1024, 1024)?.[0]).toBe(4);
    expect(cache.get(1, 0, 1024)).toBeUndefined();
    expect(cache.get(1, 1024, 1024)).toBeUndefined();
    // An older generation's hit is moved into the current one.
    expect(cache.get(1, 3 * 1024, 1024)?.[0]).toBe(3);
    // Length is part of the key: a replacement of another size is a miss.
    expect(cache.get(1, 5 * 1024, 512)).toBeUndefined();
    // A batch larger than half the budget is never kept.
    for (let k = 0; k < 2; k++) cache.offer(2, 0, new Uint8Array(3 * 1024));
    expect(cache.get(2, 0, 3 * 1024)).toBeUndefined();
  });
});
