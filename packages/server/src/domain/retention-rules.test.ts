import { describe, expect, it } from "vitest";
import { parseRetentionRule, planRetention, RetentionDefaults } from "./retention-rules.js";
import { streamState } from "./test-fixtures.js";

describe("parseRetentionRule", () => {
  it("reads an age, a size or both, in any order", () => {
    expect(parseRetentionRule("logs/**=7d,10GiB")).toEqual({ pattern: "logs/**", policy: { maxAgeSeconds: 604_800, maxBytes: 10 * 2 ** 30 } });
    expect(parseRetentionRule("a=500MB,12h").policy).toEqual({ maxAgeSeconds: 43_200, maxBytes: 500e6 });
    expect(parseRetentionRule("**=90s").policy).toEqual({ maxAgeSeconds: 90, maxBytes: null });
    expect(parseRetentionRule("x/*=4096B").policy).toEqual({ maxAgeSeconds: null, maxBytes: 4096 });
  });

  it("names what is wrong", () => {
    expect(() => parseRetentionRule("logs/**")).toThrow(/PATTERN=LIMITS/);
    expect(() => parseRetentionRule("logs/**=7")).toThrow(/"7"/);
    expect(() => parseRetentionRule("logs/**=7d,8d")).toThrow(/one age/);
    expect(() => parseRetentionRule("logs/ev*=7d")).toThrow(/whole path segments/);
    expect(() => parseRetentionRule("logs/**=0d")).toThrow(/above zero/);
  });
});

describe("RetentionDefaults", () => {
  const defaults = new RetentionDefaults(
    ["**=1d", "logs/**=7d", "logs/app/*=30d", "logs/*/audit=365d"].map(parseRetentionRule),
  );
  it("picks the most specific matching pattern", () => {
    const age = (path: string) => defaults.policyFor(path)?.maxAgeSeconds;
    expect(age("chat/room")).toBe(86_400);
    expect(age("logs/web/errors")).toBe(7 * 86_400);
    expect(age("logs/app/web")).toBe(30 * 86_400);
    expect(age("logs/app/audit")).toBe(30 * 86_400); // equally specific: the rule given first wins
    expect(age("logs/db/audit")).toBe(365 * 86_400);
    expect(new RetentionDefaults([]).policyFor("x")).toBeNull();
  });
});

describe("planRetention", () => {
  const stream = streamState({ tail: 30 });
  const head = [
    { start: 0, bytes: 10, appendedAt: 1_000 },
    { start: 10, bytes: 10, appendedAt: 2_000 },
    { start: 20, bytes: 10, appendedAt: 3_000 },
  ];

  it("drops head batches older than the age limit, and stops at the first young one", () => {
    expect(planRetention(stream, { maxAgeSeconds: 1, maxBytes: null }, head, null, 3_500)).toEqual({
      earliest: 20,
      removeBelow: 20,
      removedBytes: 20,
      removedBatches: 2,
    });
    expect(planRetention(stream, { maxAgeSeconds: 10, maxBytes: null }, head, null, 3_500)).toBeNull();
  });

  it("drops head batches while the stream is over its size, never the last one", () => {
    expect(planRetention(stream, { maxAgeSeconds: null, maxBytes: 20 }, head, null, 0)?.earliest).toBe(10);
    expect(planRetention(stream, { maxAgeSeconds: null, maxBytes: 1 }, head, null, 0)?.earliest).toBe(20);
  });

  it("never goes past what forks still read", () => {
    expect(planRetention(stream, { maxAgeSeconds: 1, maxBytes: null }, head, 15, 10_000)?.earliest).toBe(10);
    expect(planRetention(stream, { maxAgeSeconds: 1, maxBytes: null }, head, 5, 10_000)).toBeNull();
  });

  it("counts a fork's inherited range as appended when the fork was made", () => {
    const fork = streamState({ forkedFrom: "s", forkOffset: 30, tail: 40, createdAt: 5_000 });
    const own = [{ start: 30, bytes: 10, appendedAt: 6_000 }];
    expect(planRetention(fork, { maxAgeSeconds: 1, maxBytes: null }, own, null, 5_500)).toBeNull();
    expect(planRetention(fork, { maxAgeSeconds: 1, maxBytes: null }, own, null, 6_500)).toMatchObject({ earliest: 30, removedBytes: 0 });
    expect(planRetention(fork, { maxAgeSeconds: null, maxBytes: 15 }, own, null, 0)).toMatchObject({ earliest: 30, removedBytes: 0 });
  });
});
