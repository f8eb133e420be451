import { describe, expect, it } from "vitest";
import { SseParser, type SseEvent } from "../src/sse-parser.js";

const bytes = (text: string) => new TextEncoder().encode(text);

function parseAll(chunks: Array<string | Uint8Array>): SseEvent[] {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(typeof chunk === "string" ? bytes(chunk) : chunk));
  events.push(...parser.end());
  return events;
}

describe("SseParser", () => {
  it("parses typed events and joins multi-line data with LF", () => {
    const events = parseAll(["event: data\ndata:line one\ndata: line two\n\nevent: control\ndata:{}\n\n"]);
    expect(events).toEqual([
      { type: "data", data: "line one\nline two", lastEventId: "" },
      { type: "control", data: "{}", lastEventId: "" },
    ]);
  });

  it("accepts CRLF, CR and LF line endings, mixed", () => {
    const events = parseAll(["event: a\r\ndata: 1\r\rdata: 2\n\nevent: c\rdata: 3\r\n\r\n"]);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["a", "1"],
      ["message", "2"],
      ["c", "3"],
    ]);
  });

  it("treats a CR ending one chunk and an LF starting the next as one line break", () => {
    const events = parseAll(["data: x\r", "\ndata: y\r", "\n\r", "\n"]);
    expect(events).toEqual([{ type: "message", data: "x\ny", lastEventId: "" }]);
  });

  it("handles every split position of a stream", () => {
    const text = "event: data\r\ndata:héllo\r\ndata: wörld\r\n\r\n: comment\n\nevent: control\ndata:{\"a\":1}\n\n";
    const whole = parseAll([text]);
    const encoded = bytes(text);
    for (let cut = 1; cut < encoded.length; cut++) {
      expect(parseAll([encoded.slice(0, cut), encoded.slice(cut)])).toEqual(whole);
    }
    expect(whole.map((e) => e.data)).toEqual(["héllo\nwörld", "{\"a\":1}"]);
  });

  it("ignores comments and unknown fields, strips exactly one space", () => {
    const events = parseAll([": keep-alive\nfoo: bar\ndata:  two spaces\ndata\n\n"]);
    expect(events).toEqual([{ type: "message", data: " two spaces\n", lastEventId: "" }]);
  });

  it("does not dispatch events without data, and resets the type after a blank line", () => {
    const events = parseAll(["event: control\n\ndata: plain\n\n"]);
    expect(events).toEqual([{ type: "message", data: "plain", lastEventId: "" }]);
  });

  it("drops an event left incomplete at the end of the stream", () => {
    expect(parseAll(["data: complete\n\ndata: cut off"])).toHaveLength(1);
    expect(parseAll(["data: cut off\n"])).toHaveLength(0);
  });

  it("ignores a leading BOM and keeps ids and retry", () => {
    const parser = new SseParser();
    const events = parser.push(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes("id: 7\nretry: 250\nretry: x\ndata: a\n\n")]));
    expect(events).toEqual([{ type: "message", data: "a", lastEventId: "7" }]);
    expect(parser.retry).toBe(250);
  });

  it("decodes multi-byte characters split across chunks", () => {
    const encoded = bytes("data: 日本\n\n");
    const events = parseAll([encoded.slice(0, 8), encoded.slice(8)]);
    expect(events[0]!.data).toBe("日本");
  });
});
