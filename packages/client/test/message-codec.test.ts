import { describe, expect, it } from "vitest";
import { encodeMessage, frameMessages, settledMessage } from "../src/message-codec.js";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const utf8 = (value: string) => new TextEncoder().encode(value);

describe("message codec", () => {
  it("JSON streams: strings and bytes are JSON text, other values are serialized", () => {
    expect(text(encodeMessage('{"a":1}', true))).toBe('{"a":1}');
    expect(text(encodeMessage(utf8("[1, 2]"), true))).toBe("[1, 2]");
    expect(text(encodeMessage({ a: [1, "x"] }, true))).toBe('{"a":[1,"x"]}');
    expect(() => encodeMessage("{oops", true)).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
    expect(() => encodeMessage(undefined, true)).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });

  it("other streams take strings and bytes only", () => {
    expect(text(encodeMessage("héllo", false))).toBe("héllo");
    expect(encodeMessage(new Uint16Array([1]).buffer, false)).toEqual(new Uint8Array([1, 0]));
    expect(() => encodeMessage({ a: 1 }, false)).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });

  it("before the content type is known, only a JSON stream could take a non-text value", () => {
    expect(text(encodeMessage("{oops", undefined))).toBe("{oops");
    expect(text(encodeMessage({ a: 1 }, undefined))).toBe('{"a":1}');
  });

  it("frames a request: one JSON array, or the bytes end to end", () => {
    const messages = [utf8("1"), utf8('{"b":2}'), utf8('"c"')];
    expect(text(frameMessages(messages, true))).toBe('[1,{"b":2},"c"]');
    expect(text(frameMessages([utf8("x")], true))).toBe("[x]");
    expect(text(frameMessages(messages, false))).toBe('1{"b":2}"c"');
  });

  it("settles promises and reads Blobs into bytes, so a Blob is JSON text like any bytes", async () => {
    expect(await settledMessage(Promise.resolve(5))).toBe(5);
    const blob = await settledMessage(new Blob(['{"from":"blob"}']));
    expect(text(encodeMessage(blob, true))).toBe('{"from":"blob"}');
  });
});
