import { describe, expect, it } from "vitest";
import { ProtocolError } from "./errors.js";
import { checkForkPoint, checkForkSource } from "./fork-rules.js";
import { streamState } from "./test-fixtures.js";

function codeOf(run: () => unknown): string | null {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  return null;
}

describe("fork rules", () => {
  it("refuses a source that is absent, expired or deleted", () => {
    expect(codeOf(() => checkForkSource(undefined, "s", 0))).toBe("FORK_SOURCE_NOT_FOUND");
    expect(codeOf(() => checkForkSource(streamState({ ttlSeconds: 1 }), "s", 1_000))).toBe("FORK_SOURCE_NOT_FOUND");
    expect(codeOf(() => checkForkSource(streamState({ softDeleted: true }), "s", 0))).toBe("FORK_SOURCE_GONE");
    const live = streamState({ tail: 5 });
    expect(checkForkSource(live, "s", 0)).toBe(live);
  });

  it("takes a fork point from the earliest retained position up to the tail", () => {
    const source = streamState({ tail: 10, earliest: 4 });
    expect(codeOf(() => checkForkPoint(source, 11))).toBe("FORK_OFFSET_OUT_OF_RANGE");
    expect(codeOf(() => checkForkPoint(source, -1))).toBe("FORK_OFFSET_OUT_OF_RANGE");
    expect(codeOf(() => checkForkPoint(source, 3))).toBe("OFFSET_RETAINED");
    expect(codeOf(() => checkForkPoint(source, 4))).toBeNull();
    expect(codeOf(() => checkForkPoint(source, 10))).toBeNull();
  });
});
