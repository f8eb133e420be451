import { describe, expect, it } from "vitest";
import { Payload } from "../src/read/batch.js";

const text = (payload: Payload) => payload.text();

describe("Payload", () => {
  it("joins JSON array texts into one array without parsing", () => {
    const joined = Payload.join([Payload.ofText("[1,2]"), Payload.ofText(" [ ] "), Payload.ofBytes(new TextEncoder().encode('[{"a":"]"}]'))], true);
    expect(text(joined)).toBe('[1,2,{"a":"]"}]');
    expect(joined.items()).toEqual([1, 2, { a: "]" }]);
    expect(text(Payload.join([], true))).toBe("[]");
    expect(text(Payload.join([Payload.ofText("[]")], true))).toBe("[]");
  });

  it("concatenates bytes for other streams", () => {
    const joined = Payload.join([Payload.ofText("ab"), Payload.ofBytes(new Uint8Array([0x63]))], false);
    expect(text(joined)).toBe("abc");
    expect(Payload.join([], false).isEmpty).toBe(true);
  });

  it("tells an empty JSON array from content", () => {
    expect(Payload.ofText("[]").hasContent(true)).toBe(false);
    expect(Payload.ofText("[]").hasContent(false)).toBe(true);
    expect(Payload.ofText("[0]").hasContent(true)).toBe(true);
    expect(Payload.empty.hasContent(false)).toBe(false);
  });

  it("refuses to merge something that is not an array", () => {
    expect(() => Payload.join([Payload.ofText("[1]"), Payload.ofText("{}")], true)).toThrow(expect.objectContaining({ code: "PARSE_ERROR" }));
  });
});
