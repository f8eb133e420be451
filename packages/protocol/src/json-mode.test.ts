import { describe, expect, it } from "vitest";
import {
  frameJsonBody,
  framedMessagePrefixLength,
  framedToJsonArray,
  frameJsonMessages,
  JsonModeError,
} from "./json-mode.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe("JSON mode", () => {
  it("frames messages so that a read is the stored bytes wrapped in brackets", () => {
    const framed = bytes(frameJsonMessages([`{"a":1}`, `"x,y"`]) + frameJsonMessages([`[1,2]`]));
    expect(text(framed)).toBe(`{"a":1},"x,y",[1,2],`);
    expect(JSON.parse(text(framedToJsonArray(framed)))).toEqual([{ a: 1 }, "x,y", [1, 2]]);
    expect(text(framedToJsonArray(new Uint8Array(0)))).toBe("[]");
  });

  it("finds message boundaries without being fooled by commas in strings or nesting", () => {
    const framed = bytes(frameJsonMessages([`{"a":"1,2","b":[3,4]}`, `"q\\",r"`, `5`]));
    expect(framedMessagePrefixLength(framed, 3)).toBe(framed.length);
    const first = framedMessagePrefixLength(framed, 1)!;
    expect(text(framed.subarray(0, first))).toBe(`{"a":"1,2","b":[3,4]},`);
    const two = framedMessagePrefixLength(framed, 2)!;
    expect(text(framed.subarray(first, two))).toBe(`"q\\",r",`);
    expect(framedMessagePrefixLength(framed, 4)).toBeUndefined();
    expect(framedMessagePrefixLength(framed, 0)).toBe(0);
  });

  describe("frameJsonBody", () => {
    const frame = (body: string, allowEmptyArray = false) => text(frameJsonBody(bytes(body), { allowEmptyArray }));

    it("keeps each message's bytes as sent and drops only the whitespace around them", () => {
      expect(frame(`[{"a": 1}, "x,y" ,[1, [2]],\n null]`)).toBe(`{"a": 1},"x,y",[1, [2]],null,`);
      expect(frame(`  {"single": "value"}\n`)).toBe(`{"single": "value"},`);
      expect(frame(`42`)).toBe(`42,`);
      expect(frame(`["a\\"b", "c]d", {"e":"{"}]`)).toBe(`"a\\"b","c]d",{"e":"{"},`);
    });

    it("flattens exactly one level of array; any other value is one message", () => {
      expect(frame(`[{"a":1},{"b":2}]`)).toBe(`{"a":1},{"b":2},`);
      expect(frame(`[[1,2],[3]]`)).toBe(`[1,2],[3],`);
      expect(frame(`{"single":true}`)).toBe(`{"single":true},`);
      expect(frame(`"text"`)).toBe(`"text",`);
      expect(frame(`null`)).toBe(`null,`);
      expect(JSON.parse(`[${frame(`["\u00e9", "ü", {"x":[1,{"y":"]"}]}]`).slice(0, -1)}]`)).toEqual(["é", "ü", { x: [1, { y: "]" }] }]);
    });

    it("rejects invalid JSON, invalid UTF-8 and (unless allowed) empty arrays", () => {
      expect(() => frame(`{ invalid json }`)).toThrow(JsonModeError);
      expect(() => frame(``)).toThrow(JsonModeError);
      expect(() => frameJsonBody(new Uint8Array([0x22, 0xff, 0x22]))).toThrow(/UTF-8/);
      expect(() => frame(`[]`)).toThrow(/empty JSON array/);
      expect(frame(` [ ] `, true)).toBe("");
    });
  });
});
