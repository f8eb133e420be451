import { describe, expect, it } from "vitest";
import { globMatches, hasPartialWildcard, literalPrefix, parseGlob } from "./glob.js";

const matches = (pattern: string, path: string) => globMatches(parseGlob(pattern), path);

describe("glob patterns", () => {
  it("matches one segment with * and any number with **", () => {
    expect(matches("events/*", "events/a")).toBe(true);
    expect(matches("events/*", "events/a/b")).toBe(false);
    expect(matches("events/*", "events")).toBe(false);
    expect(matches("events/**", "events/a/b/c")).toBe(true);
    expect(matches("events/**", "events")).toBe(true);
    expect(matches("**/errors", "a/b/errors")).toBe(true);
    expect(matches("**/errors", "errors")).toBe(true);
    expect(matches("a/**/z", "a/z")).toBe(true);
    expect(matches("a/**/z", "a/b/c/z")).toBe(true);
    expect(matches("a/**/z", "a/b/c/y")).toBe(false);
    expect(matches("*/x/*", "1/x/2")).toBe(true);
    expect(matches("**/**/x", "q/x")).toBe(true);
    expect(matches("exact/path", "exact/path")).toBe(true);
    expect(matches("exact/path", "exact/pathx")).toBe(false);
  });

  it("lists by the literal prefix and spots partial wildcards", () => {
    expect(literalPrefix(parseGlob("events/*"))).toBe("events/");
    expect(literalPrefix(parseGlob("a/b/**/c"))).toBe("a/b/");
    expect(literalPrefix(parseGlob("**"))).toBe("");
    expect(literalPrefix(parseGlob("a/b"))).toBe("a/b");
    expect(hasPartialWildcard("events/ev*")).toBe(true);
    expect(hasPartialWildcard("events/***")).toBe(true);
    expect(hasPartialWildcard("events/**/x/*")).toBe(false);
  });
});
