import { describe, expect, it } from "vitest";
import { formatSseEvent } from "./sse.js";

describe("SSE framing", () => {
  it("puts every line of the payload on its own data: line", () => {
    expect(formatSseEvent("data", "a\nb\r\nc\rd")).toBe("event: data\ndata:a\ndata:b\ndata:c\ndata:d\n\n");
  });

  it("keeps a payload line's own leading space through a spec-compliant parser", () => {
    expect(formatSseEvent("data", " indented\nflush")).toBe("event: data\ndata:  indented\ndata:flush\n\n");
  });

  it("cannot be tricked into starting a new event by the payload", () => {
    const frame = formatSseEvent("data", "x\n\nevent: control\ndata: {}");
    const blocks = frame.split("\n\n").filter(Boolean);
    expect(blocks).toHaveLength(1);
    expect(frame.match(/^event:/gm)).toHaveLength(1);
  });
});
