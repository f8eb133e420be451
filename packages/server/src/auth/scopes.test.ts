import { describe, expect, it } from "vitest";
import { allows, grantsFromClaim, parseScope } from "./scopes.js";
import { createStaticToken, hashToken, parseTokensFile } from "./static-tokens.js";

describe("scope patterns", () => {
  const grants = parseScope("read:chat/** write:chat/lobby delete:tmp/* admin");

  it.each([
    ["read", "chat/lobby", true],
    ["read", "chat/a/b/c", true],
    ["read", "chatter", false],
    ["read", "other/chat", false],
    ["write", "chat/lobby", true],
    ["write", "chat/lobby2", false],
    ["write", "chat/lobby/x", false],
    ["delete", "tmp/x", true],
    ["delete", "tmp/x/y", false],
    ["delete", "tmp", false],
  ] as const)("%s %s → %s", (operation, path, expected) => {
    expect(allows(grants, operation, path)).toBe(expected);
  });

  it("read:** covers every stream, admin is its own scope", () => {
    expect(allows(parseScope("read:**"), "read", "a/b/c")).toBe(true);
    expect(allows(parseScope("read:**"), "write", "a")).toBe(false);
    expect(grants.admin).toBe(true);
    expect(allows(parseScope("admin"), "read", "a")).toBe(false);
  });

  it("matches percent-escaped names as they are spelled in URLs", () => {
    expect(allows(parseScope("read:team%20a/*"), "read", "team%20a/notes")).toBe(true);
    expect(allows(parseScope("read:team%20a/*"), "read", "team a/notes")).toBe(false);
  });

  it("rejects scopes it does not understand, naming them", () => {
    expect(() => parseScope("reed:x")).toThrow('unknown scope "reed:x"');
    expect(() => parseScope("read:")).toThrow("needs a stream path pattern");
    expect(() => parseScope("read:a//b")).toThrow("needs a stream path pattern");
    expect(() => parseScope("write:ch*")).toThrow("wildcards must be whole segments");
    expect(() => parseScope("admin:x")).toThrow("unknown scope");
  });

  it("ignores scopes of other services in a token's claim (string or array)", () => {
    const fromString = grantsFromClaim("openid profile read:a/* email");
    expect(allows(fromString, "read", "a/b")).toBe(true);
    const fromArray = grantsFromClaim(["write:x", 42, "bogus"]);
    expect(allows(fromArray, "write", "x")).toBe(true);
    expect(grantsFromClaim(undefined).read).toEqual([]);
  });
});

describe("static tokens file", () => {
  it("stores a hash of the token, never the token", () => {
    const { token, line } = createStaticToken("read:logs/**  write:logs/app");
    expect(token).toMatch(/^rill_[A-Za-z0-9_-]{43}$/);
    expect(line).toBe(`sha256:${hashToken(token)} read:logs/** write:logs/app`);
    expect(line).not.toContain(token);
    const parsed = parseTokensFile(`# ops\n\n${line}\n`);
    expect(allows(parsed.get(hashToken(token))!.grants, "write", "logs/app")).toBe(true);
  });

  it("names the line of a mistake", () => {
    expect(() => parseTokensFile("rill_plaintext read:**", "t")).toThrow("t line 1: expected");
    expect(() => parseTokensFile(`# x\nsha256:${"a".repeat(64)} read:**\nsha256:${"a".repeat(64)} admin`, "t")).toThrow(
      "t line 3: the same token hash appears twice",
    );
    expect(() => parseTokensFile(`sha256:${"b".repeat(64)} raed:**`, "t")).toThrow('t line 1: unknown scope "raed:**"');
    expect(() => createStaticToken("")).toThrow("at least one scope");
  });
});
