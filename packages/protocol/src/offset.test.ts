import { describe, expect, it } from "vitest";
import { formatOffset, parseOffset, ZERO_OFFSET } from "./offset.js";

describe("offsets", () => {
  it("formats the stream start as the zero offset the protocol's tests use", () => {
    expect(ZERO_OFFSET).toBe("0000000000000000_0000000000000000");
    expect(formatOffset(42)).toBe("0000000000000000_0000000000000042");
  });

  it("round-trips positions up to the largest safe integer", () => {
    for (const position of [0, 1, 9, 10, 255, 1_000_000, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      expect(parseOffset(formatOffset(position))).toBe(position);
    }
  });

  it("sorts lexicographically in stream order", () => {
    const positions = [0, 7, 10, 99, 100, 12345, 2 ** 33];
    const offsets = positions.map(formatOffset);
    expect([...offsets].sort()).toEqual(offsets);
  });

  it("is URL-safe and never a sentinel", () => {
    const offset = formatOffset(123);
    expect(encodeURIComponent(offset)).toBe(offset);
    expect(offset).not.toBe("-1");
    expect(offset).not.toBe("now");
  });

  it("rejects anything that is not exactly an offset", () => {
    for (const text of ["", "-1", "now", "0", "0_0", "abc", "0000000000000000_000000000000004", "0000000000000000_00000000000000042 ", "0000000000000001_0000000000000000", "0000000000000000_000000000000004a", "../0000000000000000_0000000000000000"]) {
      expect(parseOffset(text), text).toBeUndefined();
    }
  });
});
