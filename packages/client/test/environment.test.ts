import { afterEach, describe, expect, it, vi } from "vitest";
import { absoluteUrl, warnIfPlainHttpInBrowser } from "../src/environment.js";

const host = globalThis as { window?: unknown; location?: unknown };

afterEach(() => {
  delete host.window;
  delete host.location;
  vi.restoreAllMocks();
});

describe("absoluteUrl", () => {
  it("keeps absolute URLs and resolves relative ones against the page", () => {
    expect(absoluteUrl("http://a.test/v1/stream/x")).toBe("http://a.test/v1/stream/x");
    expect(absoluteUrl(new URL("http://a.test/s"))).toBe("http://a.test/s");
    expect(() => absoluteUrl("/v1/stream/x")).toThrow(TypeError);
    host.location = { href: "https://app.test/page/index.html" };
    expect(absoluteUrl("/v1/stream/x")).toBe("https://app.test/v1/stream/x");
  });
});

describe("warnIfPlainHttpInBrowser", () => {
  it("warns once per origin, only in browsers, not for localhost or https", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    warnIfPlainHttpInBrowser("http://streams.test/a", undefined);
    expect(warn).not.toHaveBeenCalled();
    host.window = {};
    warnIfPlainHttpInBrowser("https://secure.test/a", undefined);
    warnIfPlainHttpInBrowser("http://localhost:4437/a", undefined);
    warnIfPlainHttpInBrowser("http://plain.test/a", false);
    expect(warn).not.toHaveBeenCalled();
    warnIfPlainHttpInBrowser("http://plain.test/a", undefined);
    warnIfPlainHttpInBrowser("http://plain.test/b", true);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain("http://plain.test");
  });
});
