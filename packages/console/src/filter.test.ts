import { describe, expect, it } from "vitest";
import { parseFilter, type Filterable } from "./filter.js";

const message = (value: unknown): Filterable => ({ text: JSON.stringify(value), value });
const ada = message({ user: "ada", n: 3, tags: ["ops", "db"], meta: { "odd key": true, level: null } });
const bob = message({ user: "bob", n: 10, tags: [] });

function test(expression: string, target: Filterable): boolean {
  const filter = parseFilter(expression);
  if (!filter?.ok) throw new Error(`did not parse: ${expression}: ${filter ? filter.error : "empty"}`);
  return filter.test(target);
}

describe("message filter", () => {
  it("matches plain text anywhere, ignoring case", () => {
    expect(test("ADA", ada)).toBe(true);
    expect(test("ADA", bob)).toBe(false);
    expect(parseFilter("   ")).toBeNull();
  });

  it("compares a JSON path with ==, !=, <, <=, >, >= and ~", () => {
    expect(test('.user == "ada"', ada)).toBe(true);
    expect(test('.user == "ada"', bob)).toBe(false);
    expect(test(".user == ada", ada)).toBe(true);
    expect(test('.user != "ada"', bob)).toBe(true);
    expect(test(".n > 5", bob)).toBe(true);
    expect(test(".n >= 3", ada)).toBe(true);
    expect(test(".n < 3", ada)).toBe(false);
    expect(test('.n > "2"', ada)).toBe(false); // a number is not ordered against a string
    expect(test(".tags[1] == \"db\"", ada)).toBe(true);
    expect(test('.meta["odd key"] == true', ada)).toBe(true);
    expect(test('.tags ~ "OPS"', ada)).toBe(true);
    expect(test(".tags == []", bob)).toBe(true);
  });

  it("tests presence: neither missing, null nor false", () => {
    expect(test(".tags", ada)).toBe(true);
    expect(test(".meta.level", ada)).toBe(false);
    expect(test(".missing.deeper", ada)).toBe(false);
    expect(test(". == 5", message(5))).toBe(true);
  });

  it("explains what it cannot parse", () => {
    expect(parseFilter(".user ==")).toEqual({ ok: false, error: "a value is needed after ==" });
    expect(parseFilter(".user is ada")).toEqual({ ok: false, error: "expected ==, !=, <, <=, >, >= or ~ after .user" });
    expect(parseFilter(".tags[1")).toEqual({ ok: false, error: 'missing "]" after character 6' });
    expect(parseFilter(".tags[x]")).toEqual({ ok: false, error: "[x] is neither an index nor a quoted key" });
    expect(parseFilter(".9lives")).toEqual({ ok: false, error: 'not a key after "." at character 1' });
  });
});
