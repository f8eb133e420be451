import { readFileSync } from "node:fs";
import { ERROR_CODES } from "@rill/protocol";
import { describe, expect, it } from "vitest";

/**
 * The client maps a Rill server's error codes by table (@rill/protocol
 * ERROR_CODES). Until the server takes its code type from that list, this
 * keeps the two in step: a code the server can send but the list lacks would
 * reach clients as an unknown code and be classified by status alone.
 */
describe("the shared error code list", () => {
  it("holds every code the server declares", () => {
    const source = readFileSync(new URL("../packages/server/src/domain/errors.ts", import.meta.url), "utf8");
    const union = /export type ErrorCode =([^;]+);/.exec(source)?.[1];
    expect(union, "domain/errors.ts no longer declares ErrorCode: if it now uses @rill/protocol's, delete this test").toBeDefined();
    const declared = [...union!.matchAll(/"([A-Z_]+)"/g)].map((match) => match[1]);
    expect(declared.length).toBeGreaterThan(20);
    expect(declared.filter((code) => !(ERROR_CODES as readonly string[]).includes(code!))).toEqual([]);
  });
});
