import { describe, expect, it } from "vitest";
import type { AppendCommand } from "./commands.js";
import { decideAppend } from "./append-rules.js";
import { statusOf, streamState } from "./test-fixtures.js";

const data = new TextEncoder().encode("hello");

function command(overrides: Partial<AppendCommand> = {}): AppendCommand {
  return { path: "s", contentType: "text/plain", data, streamSeq: null, producer: null, close: false, ...overrides };
}


describe("append rules", () => {
  it("appends at the tail and moves it by the stored bytes", () => {
    const decision = decideAppend(streamState({ tail: 10 }), undefined, command(), 1);
    expect(decision.kind).toBe("append");
    if (decision.kind !== "append") return;
    expect(decision.start).toBe(10);
    expect(decision.next.tail).toBe(15);
    expect(decision.next.lastAccessAt).toBe(1);
  });

  it("answers 404 for missing and expired streams, 410 for soft-deleted ones", () => {
    expect(statusOf(() => decideAppend(undefined, undefined, command(), 0))).toBe(404);
    expect(statusOf(() => decideAppend(streamState({ ttlSeconds: 1 }), undefined, command(), 1_000))).toBe(404);
    expect(statusOf(() => decideAppend(streamState({ softDeleted: true }), undefined, command(), 0))).toBe(410);
  });

  it("matches content types by media type only", () => {
    const stream = streamState({ contentType: "application/json; charset=utf-8" });
    expect(decideAppend(stream, undefined, command({ contentType: "APPLICATION/JSON" }), 0).kind).toBe("append");
    expect(statusOf(() => decideAppend(stream, undefined, command({ contentType: "text/plain" }), 0))).toBe(409);
  });

  it("enforces strictly increasing Stream-Seq in byte order", () => {
    const stream = streamState({ lastStreamSeq: "2" });
    expect(statusOf(() => decideAppend(stream, undefined, command({ streamSeq: "10" }), 0))).toBe(409);
    expect(statusOf(() => decideAppend(stream, undefined, command({ streamSeq: "2" }), 0))).toBe(409);
    expect(decideAppend(stream, undefined, command({ streamSeq: "3" }), 0).kind).toBe("append");
  });

  it("checks producer duplicates before Stream-Seq, so a retry is a duplicate and not a conflict", () => {
    const stream = streamState({ lastStreamSeq: "a" });
    const decision = decideAppend(stream, { epoch: 0, lastSeq: 0 }, command({ streamSeq: "a", producer: { id: "p", epoch: 0, seq: 0 } }), 0);
    expect(decision).toMatchObject({ kind: "duplicate", echo: { epoch: 0, seq: 0 } });
  });

  it("closes atomically with the last data and remembers who closed", () => {
    const decision = decideAppend(streamState(), { epoch: 0, lastSeq: 0 }, command({ close: true, producer: { id: "p", epoch: 0, seq: 1 } }), 0);
    expect(decision.kind).toBe("append");
    if (decision.kind !== "append") return;
    expect(decision.next.closed).toBe(true);
    expect(decision.next.closedBy).toEqual({ id: "p", epoch: 0, seq: 1 });
  });

  it("rejects appends to a closed stream, except a retry of the closing request", () => {
    const closed = streamState({ closed: true, tail: 5, closedBy: { id: "p", epoch: 0, seq: 3 } });
    expect(statusOf(() => decideAppend(closed, undefined, command(), 0))).toBe(409);
    expect(statusOf(() => decideAppend(closed, undefined, command({ producer: { id: "q", epoch: 0, seq: 0 } }), 0))).toBe(409);
    expect(statusOf(() => decideAppend(closed, undefined, command({ producer: { id: "p", epoch: 0, seq: 4 } }), 0))).toBe(409);
    expect(decideAppend(closed, undefined, command({ producer: { id: "p", epoch: 0, seq: 3 } }), 0)).toMatchObject({
      kind: "duplicate",
      echo: { epoch: 0, seq: 3 },
    });
    expect(decideAppend(closed, undefined, command({ data: new Uint8Array(0), close: true }), 0).kind).toBe("duplicate");
  });

  it("does not check the content type of a close without data", () => {
    const stream = streamState({ contentType: "application/json" });
    const decision = decideAppend(stream, undefined, command({ contentType: "text/plain", data: new Uint8Array(0), close: true }), 0);
    expect(decision.kind).toBe("append");
  });
});
