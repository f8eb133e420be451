import { describe, expect, it } from "vitest";
import { encodeMessage, frameMessages, settledMessage, sizedPart } from "../src/message-codec.js";

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

  it("measures each part as it checks it, and frames a sized batch straight into one buffer", () => {
    const values = ['{"a":"héllo"}', "[1, 2]", '"😀 漢"', { b: "ü" }, utf8('{"c":"é"}'), "null"];
    const parts = values.map((value) => sizedPart(value, true));
    for (const { part, bytes } of parts) expect(bytes).toBe(typeof part === "string" ? utf8(part).length : part.length);
    const total = parts.reduce((sum, { bytes }) => sum + bytes, 0);
    const sized = frameMessages(parts.map(({ part }) => part), true, total);
    // The same bytes as the joined-string framing, and JSON that reads back as the messages.
    expect(text(sized)).toBe(text(frameMessages(parts.map(({ part }) => part), true)));
    expect(JSON.parse(text(sized))).toEqual([{ a: "héllo" }, [1, 2], "😀 漢", { b: "ü" }, { c: "é" }, null]);
    expect(text(frameMessages([], true, 0))).toBe("[]");
    // A message longer than the reused check buffer is checked and measured all the same.
    const long = JSON.stringify({ text: "é".repeat(100_000) });
    expect(sizedPart(long, true).bytes).toBe(utf8(long).length);
    expect(() => sizedPart(`${long.slice(0, -1)},}`, true)).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });

  it("settles promises and reads Blobs into bytes, so a Blob is JSON text like any bytes", async () => {
    expect(await settledMessage(Promise.resolve(5))).toBe(5);
    const blob = await settledMessage(new Blob(['{"from":"blob"}']));
    expect(text(encodeMessage(blob, true))).toBe('{"from":"blob"}');
  });
});
