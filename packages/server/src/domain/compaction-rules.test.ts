import { describe, expect, it } from "vitest";
import { messageKey, planCompaction, resolvePointer } from "./compaction-rules.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const policy = { keyPointers: ["/type", "/key"], tombstoneAgeSeconds: 60 };
const change = (key: string, operation: string, value: unknown = null) =>
  JSON.stringify({ type: "user", key, value, headers: { operation } });
const batch = (start: number, messages: string[], appendedAt: number) => ({
  start,
  bytes: encoder.encode(messages.map((m) => `${m},`).join("")),
  appendedAt,
});

describe("planCompaction", () => {
  it("keeps the latest message per key, at its position, and messages without a key", () => {
    const first = batch(0, [change("a", "insert", 1), '{"note":"no key"}', change("b", "insert", 2)], 0);
    const second = batch(first.bytes.length, [change("a", "update", 3)], 0);
    const plan = planCompaction([first, second], policy, 100_000, 1000);
    expect(plan.rewrites).toHaveLength(1);
    const [rewrite] = plan.rewrites;
    expect(rewrite).toMatchObject({ start: 0, size: first.bytes.length, removedMessages: 1 });
    const keptFrom = change("a", "insert", 1).length + 1;
    expect(rewrite!.pieces.map((p) => p.start)).toEqual([keptFrom]);
    expect(decoder.decode(rewrite!.pieces[0]!.bytes)).toBe(`{"note":"no key"},${change("b", "insert", 2)},`);
  });

  it("leaves batches younger than the lag alone, but lets them supersede older ones", () => {
    const old = batch(0, [change("a", "insert", 1)], 0);
    const young = batch(old.bytes.length, [change("a", "update", 2), change("a", "update", 3)], 99_500);
    const plan = planCompaction([old, young], policy, 100_000, 1000);
    expect(plan.rewrites.map((r) => r.start)).toEqual([0]);
    expect(plan.rewrites[0]!.pieces).toEqual([]);
    expect(plan.recheckAt).toBe(99_500 + 1000 + 1);
  });

  it("removes a delete once it is older than the tombstone age, never before", () => {
    const history = [batch(0, [change("a", "insert", 1), change("a", "delete")], 0)];
    const early = planCompaction(history, policy, 30_000, 1000);
    expect(early.rewrites[0]!.removedMessages).toBe(1);
    expect(decoder.decode(early.rewrites[0]!.pieces[0]!.bytes)).toBe(`${change("a", "delete")},`);
    expect(early.recheckAt).toBe(60_001);
    const late = planCompaction(history, policy, 61_000, 1000);
    expect(late.rewrites[0]).toMatchObject({ removedMessages: 2, pieces: [] });
  });

  it("plans nothing when nothing is superseded", () => {
    const plan = planCompaction([batch(0, [change("a", "insert"), change("b", "insert")], 0)], policy, 100_000, 0);
    expect(plan).toEqual({ rewrites: [], recheckAt: null });
  });
});

describe("message keys", () => {
  it("follows RFC 6901 pointers, and has no key when one is missing", () => {
    const value = { "a/b": { "~x": [10, 20] }, type: "t" };
    expect(resolvePointer(value, "/a~1b/~0x/1")).toBe(20);
    expect(resolvePointer(value, "/a~1b/~0x/01")).toBeUndefined();
    expect(messageKey(value, ["/type", "/a~1b/~0x/0"])).toBe('["t",10]');
    expect(messageKey(value, ["/type", "/key"])).toBeNull();
    expect(messageKey("text", ["/type"])).toBeNull();
  });
});
