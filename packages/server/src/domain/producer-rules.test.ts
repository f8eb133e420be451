import { describe, expect, it } from "vitest";
import { ProtocolError } from "./errors.js";
import { decideProducer } from "./producer-rules.js";
import { errorHeaders, errorStatus } from "../http/error-statuses.js";

function rejection(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error("expected a ProtocolError");
}

describe("idempotent producer rules", () => {
  it("accepts a new producer at seq 0 in any epoch, and nothing else", () => {
    expect(decideProducer(undefined, { id: "p", epoch: 0, seq: 0 })).toEqual({ kind: "accept", next: { epoch: 0, lastSeq: 0 } });
    expect(decideProducer(undefined, { id: "p", epoch: 3, seq: 0 })).toEqual({ kind: "accept", next: { epoch: 3, lastSeq: 0 } });
    const gap = rejection(() => decideProducer(undefined, { id: "p", epoch: 0, seq: 2 }));
    expect(errorStatus(gap)).toBe(409);
    expect(errorHeaders(gap)).toMatchObject({ "producer-expected-seq": "0", "producer-received-seq": "2" });
  });

  it("accepts the next seq and treats earlier ones as duplicates", () => {
    const state = { epoch: 1, lastSeq: 4 };
    expect(decideProducer(state, { id: "p", epoch: 1, seq: 5 })).toEqual({ kind: "accept", next: { epoch: 1, lastSeq: 5 } });
    expect(decideProducer(state, { id: "p", epoch: 1, seq: 4 })).toEqual({ kind: "duplicate", state });
    expect(decideProducer(state, { id: "p", epoch: 1, seq: 0 })).toEqual({ kind: "duplicate", state });
  });

  it("reports a gap with the expected and received seq", () => {
    const error = rejection(() => decideProducer({ epoch: 0, lastSeq: 0 }, { id: "p", epoch: 0, seq: 2 }));
    expect(errorStatus(error)).toBe(409);
    expect(error.code).toBe("PRODUCER_SEQ_GAP");
    expect(errorHeaders(error)).toEqual({ "producer-expected-seq": "1", "producer-received-seq": "2" });
  });

  it("fences stale epochs and tells the zombie the current epoch", () => {
    const error = rejection(() => decideProducer({ epoch: 2, lastSeq: 9 }, { id: "p", epoch: 1, seq: 10 }));
    expect(errorStatus(error)).toBe(403);
    expect(errorHeaders(error)).toEqual({ "producer-epoch": "2" });
  });

  it("starts a new epoch only at seq 0", () => {
    expect(decideProducer({ epoch: 0, lastSeq: 7 }, { id: "p", epoch: 1, seq: 0 })).toEqual({
      kind: "accept",
      next: { epoch: 1, lastSeq: 0 },
    });
    expect(errorStatus(rejection(() => decideProducer({ epoch: 0, lastSeq: 7 }, { id: "p", epoch: 1, seq: 5 })))).toBe(400);
  });
});
