import { describe, expect, it } from "vitest";
import { plainPathname, plainQuery } from "./router.js";

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

describe("plainQuery", () => {
  it("reads a plain path's query exactly as the URL's searchParams do, and leaves the rest to the URL", () => {
    const pieces = ["offset=", "-1", "&", "live=sse", "=", "%20", "%", "%2", "+", "é", "cursor=a%2Bb", "&&", "?", "x", ";", "%C3%A9", "%FF"];
    let compared = 0;
    let declined = 0;
    const walk = (query: string, depth: number) => {
      for (const path of ["/v1/stream/a", "/v1/stream/a/../b"]) {
        const raw = `${path}?${query}`;
        const fast = plainQuery(raw);
        if (fast === null) {
          declined++;
          continue;
        }
        compared++;
        expect([...fast], raw).toEqual([...new URL(raw, "http://h.test").searchParams]);
      }
      if (depth === 3) return;
      for (const piece of pieces) walk(query + piece, depth + 1);
    };
    walk("", 0);
    expect(compared).toBeGreaterThan(3000);
    expect(declined).toBeGreaterThan(3000);
    expect(plainQuery("/v1/stream/a/../b?offset=1")).toBeNull();
    expect(plainQuery("/v1/stream/a?offset=é")).toBeNull();
    expect(plainQuery("/v1/stream/a")?.toString()).toBe("");
    expect(plainQuery("/v1/stream/a?offset=1#frag")).toBeNull();
  });
});
