import { describe, expect, it } from "vitest";
import { encodeStreamName } from "./listing.js";

describe("encodeStreamName", () => {
  it("keeps hierarchical names readable and encodes what a path cannot carry", () => {
    expect(encodeStreamName("logs/app-1.v2")).toBe("logs/app-1.v2");
    expect(encodeStreamName("chat room?#1")).toBe("chat%20room%3F%231");
    expect(encodeStreamName("café")).toBe("caf%C3%A9");
  });

  it("does not encode a name twice", () => {
    expect(encodeStreamName(encodeStreamName("a b"))).toBe("a%20b");
  });
});
