import { describe, expect, it } from "vitest";
import { LOAD_STEP, MessageStore, type Message } from "./message-store.js";

const offset = (n: number) => `0000000000000000_${String(n).padStart(16, "0")}`;
const messages = (from: number, count: number, end: string): Message[] =>
  Array.from({ length: count }, (_, k) => ({ text: String(from + k), bytes: 10, chunkEnd: end, lastInChunk: k === count - 1 }));

describe("MessageStore", () => {
  it("keeps the newest messages after catch-up, counts the earlier ones exactly, and takes them back in order", () => {
    const store = new MessageStore(true);
    store.add("-1", offset(100), messages(0, 3000, offset(100)), false);
    store.add(offset(100), offset(200), messages(3000, 3000, offset(200)), false);
    store.add(offset(200), offset(250), messages(6000, 1500, offset(250)), false);
    expect(store.trim(2000)).toBe(5500);
    expect(store.hiddenBefore).toBe(5500);
    expect(store.total).toBe(7500);
    expect(store.messages[0]!.text).toBe("5500");

    // The page the oldest kept message is in comes first, read again from its start.
    let older = store.olderPage!;
    expect(older).toMatchObject({ start: offset(100), end: offset(200), count: 3000, kept: 500 });
    expect(store.olderCount).toBe(2500);
    expect(store.prepend(older, messages(3000, 3000, offset(200)))).toBe(2500);
    older = store.olderPage!;
    expect(older).toMatchObject({ start: "-1", end: offset(100), kept: 0 });
    expect(store.prepend(older, messages(0, 3000, offset(100)))).toBe(3000);
    expect(store.hiddenBefore).toBe(0);
    expect(store.olderPage).toBeNull();
    expect(store.messages.map((m) => Number(m.text))).toEqual(Array.from({ length: 7500 }, (_, i) => i));
  });

  it("brings back at most LOAD_STEP messages at a time from one large page", () => {
    const store = new MessageStore(true);
    store.add("-1", offset(9), messages(0, LOAD_STEP + 10_000, offset(9)), false);
    store.trim(2000);
    const page = store.olderPage!;
    expect(store.prepend(page, messages(0, LOAD_STEP + 10_000, offset(9)))).toBe(LOAD_STEP);
    expect(store.hiddenBefore).toBe(8000);
    expect(store.messages[0]!.text).toBe("8000");
    expect(store.olderCount).toBe(8000);
  });

  it("merges small live chunks into one page, and lets go of part of a page", () => {
    const store = new MessageStore(true);
    store.add("-1", offset(10), messages(0, 1, offset(10)), false);
    store.add(offset(10), offset(20), messages(1, 1, offset(20)), true);
    store.add(offset(20), offset(30), messages(2, 1, offset(30)), true);
    expect(store.pages.map((page) => [page.start, page.end, page.count])).toEqual([["-1", offset(30), 3]]);
    expect(store.trim(1)).toBe(2);
    expect(store.messages.map((m) => m.text)).toEqual(["2"]);
    expect(store.olderPage).toMatchObject({ count: 3, kept: 1 });
  });
});
