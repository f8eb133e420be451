import { describe, expect, it } from "vitest";
import { CURSOR_EPOCH_MS, currentCursorInterval, nextCursor } from "./cursor.js";

describe("cursor", () => {
  const now = CURSOR_EPOCH_MS + 1_000 * 20 * 500 + 7_000; // interval 500

  it("is the current 20-second interval when the client sends none or an old one", () => {
    expect(currentCursorInterval(now)).toBe(500);
    expect(nextCursor(null, now)).toBe("500");
    expect(nextCursor("499", now)).toBe("500");
    expect(nextCursor("garbage", now)).toBe("500");
  });

  it("always moves past a cursor that is current or ahead, so caches cannot loop", () => {
    for (const echoed of ["500", "501", "9000"]) {
      for (const random of [0, 0.5, 0.999]) {
        expect(Number(nextCursor(echoed, now, 20, () => random))).toBeGreaterThan(Number(echoed));
      }
    }
  });
});
