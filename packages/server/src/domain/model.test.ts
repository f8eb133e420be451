import { describe, expect, it } from "vitest";
import { expiryTime, isExpired } from "./model.js";
import { streamState } from "./test-fixtures.js";

describe("TTL and expiry", () => {
  it("never expires without a TTL or an expiry time", () => {
    const stream = streamState();
    expect(isExpired(stream, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(expiryTime(stream)).toBeNull();
  });

  it("expires a sliding TTL counted from the last access, to the millisecond", () => {
    const stream = streamState({ ttlSeconds: 2, lastAccessAt: 10_000 });
    expect(isExpired(stream, 11_999)).toBe(false);
    expect(isExpired(stream, 12_000)).toBe(true);
    expect(isExpired({ ...stream, lastAccessAt: 11_500 }, 12_000)).toBe(false);
  });

  it("expires at an absolute time that access never moves", () => {
    const stream = streamState({ expiresAt: 5_000, lastAccessAt: 4_999 });
    expect(isExpired(stream, 4_999)).toBe(false);
    expect(isExpired(stream, 5_000)).toBe(true);
    expect(expiryTime(stream)).toBe(5_000);
  });

  it("takes the earlier of the two when both apply", () => {
    expect(expiryTime(streamState({ ttlSeconds: 10, lastAccessAt: 0, expiresAt: 3_000 }))).toBe(3_000);
    expect(expiryTime(streamState({ ttlSeconds: 1, lastAccessAt: 0, expiresAt: 3_000 }))).toBe(1_000);
  });
});
