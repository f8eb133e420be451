import { describe, expect, it } from "vitest";
import { plainPathname } from "./router.js";

describe("plainPathname", () => {
  it("is exactly what the URL parser makes of every target it accepts, and declines the rest", () => {
    const pieces = ["a", "B9", "-", "_", "~", ".", "..", "/", "//", "%2e", "%2F", "?x=1", "#f", " ", "\\\\", "é", ":", "@"];
    let accepted = 0;
    let declined = 0;
    // Every target of up to four pieces after a leading "/".
    const walk = (target: string, depth: number) => {
      const plain = plainPathname(target);
      if (plain === null) declined++;
      else {
        accepted++;
        expect(plain, target).toBe(new URL(target, "http://h.test").pathname);
      }
      if (depth === 4) return;
      for (const piece of pieces) walk(target + piece, depth + 1);
    };
    walk("/", 0);
    expect(accepted).toBeGreaterThan(1000);
    expect(declined).toBeGreaterThan(1000);
    expect(plainPathname("/v1/stream/orders-2026.json")).toBe("/v1/stream/orders-2026.json");
    expect(plainPathname("/v1/stream/a/../b")).toBeNull();
    expect(plainPathname("//host/v1/stream/a")).toBeNull();
    expect(plainPathname("/v1/stream/a?offset=-1")).toBeNull();
  });
});
