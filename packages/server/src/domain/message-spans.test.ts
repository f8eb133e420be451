import { describe, expect, it } from "vitest";
import { messageSpanIn } from "./message-spans.js";

const batch = (start: number, text: string) => ({ start, bytes: new TextEncoder().encode(text) });

describe("messageSpanIn", () => {
  it("finds the framed JSON message holding a position, commas inside strings included", () => {
    const framed = batch(100, '{"a":1},"x,y",[1,2],');
    const spans = [100, 103, 107, 108, 111, 114, 115, 119].map((p) => messageSpanIn(framed, p, true));
    expect(spans).toEqual([
      { start: 100, end: 108 },
      { start: 100, end: 108 },
      { start: 100, end: 108 },
      { start: 108, end: 114 },
      { start: 108, end: 114 },
      { start: 114, end: 120 },
      { start: 114, end: 120 },
      { start: 114, end: 120 },
    ]);
  });

  it("takes a whole batch as the message of a byte stream", () => {
    expect(messageSpanIn(batch(5, "abcdef"), 8, false)).toEqual({ start: 5, end: 11 });
  });

  it("takes unframed bytes (never written by Rill) as one message to the end of the batch", () => {
    expect(messageSpanIn(batch(0, '{"a":1},{"b"'), 10, true)).toEqual({ start: 8, end: 12 });
  });
});
