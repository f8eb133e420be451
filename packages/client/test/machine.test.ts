import { describe, expect, it } from "vitest";
import { advance, initialState, liveTransport, nextStep, worthDelivering } from "../src/read/machine.js";

describe("read state machine", () => {
  it("catches up first, then goes live with the chosen transport", () => {
    const start = initialState("-1");
    expect(nextStep(start, "long-poll", false)).toBe("catch-up");
    const caughtUp = advance(start, { offset: "5", upToDate: true, streamClosed: false });
    expect(nextStep(caughtUp, "long-poll", false)).toBe("long-poll");
    expect(nextStep(caughtUp, "sse", false)).toBe("sse");
  });

  it("stops at up-to-date when not live or when a promise helper reads", () => {
    const caughtUp = advance(initialState("-1"), { offset: "5", upToDate: true, streamClosed: false });
    expect(nextStep(caughtUp, null, false)).toBe("done");
    expect(nextStep(caughtUp, "sse", true)).toBe("done");
  });

  it("stops at a closed stream in every mode", () => {
    const closed = advance(initialState("-1"), { offset: "9", upToDate: false, streamClosed: true });
    expect(closed.upToDate).toBe(true);
    for (const transport of ["long-poll", "sse", null] as const) expect(nextStep(closed, transport, false)).toBe("done");
  });

  it("falls back to catch-up when a live response is not up to date", () => {
    const live = advance(initialState("-1"), { offset: "5", upToDate: true, streamClosed: false });
    const behind = advance(live, { offset: "6", upToDate: false, streamClosed: false });
    expect(nextStep(behind, "long-poll", false)).toBe("catch-up");
  });

  it("keeps offset and cursor when a report omits them", () => {
    const state = advance(initialState("-1"), { offset: "5", cursor: "c1", upToDate: true, streamClosed: false });
    expect(advance(state, { upToDate: true, streamClosed: false })).toMatchObject({ offset: "5", cursor: "c1" });
  });

  it("maps live modes to transports", () => {
    expect(liveTransport(false)).toBeNull();
    expect(liveTransport("auto")).toBe("long-poll");
    expect(liveTransport(true)).toBe("long-poll");
    expect(liveTransport("long-poll")).toBe("long-poll");
    expect(liveTransport("sse")).toBe("sse");
  });

  it("delivers data, the moment of catching up, and the end, but not quiet timeouts", () => {
    const behind = initialState("-1");
    const upToDate = advance(behind, { offset: "1", upToDate: true, streamClosed: false });
    const closed = advance(upToDate, { offset: "1", upToDate: true, streamClosed: true });
    expect(worthDelivering(behind, upToDate, false)).toBe(true);
    expect(worthDelivering(upToDate, upToDate, false)).toBe(false);
    expect(worthDelivering(upToDate, upToDate, true)).toBe(true);
    expect(worthDelivering(upToDate, closed, false)).toBe(true);
  });
});

describe("after an SSE connection ends", () => {
  it("catches up before reconnecting, without re-delivering the caught-up moment", async () => {
    const { connectionEnded } = await import("../src/read/machine.js");
    const live = advance(initialState("-1"), { offset: "5", upToDate: true, streamClosed: false });
    const ended = connectionEnded(live);
    expect(ended.offset).toBe("5");
    expect(nextStep(ended, "sse", false)).toBe("catch-up");
    const again = advance(ended, { offset: "5", upToDate: true, streamClosed: false });
    expect(worthDelivering(live, again, false)).toBe(false);
    expect(nextStep(again, "sse", false)).toBe("sse");
  });
});
