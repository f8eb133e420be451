/** The producer's send window on its own, driven by a scripted server. */
import { describe, expect, it } from "vitest";
import { SequenceGapError, StaleEpochError, StreamClosedError, networkError } from "../src/errors.js";
import { Pipeline, type WindowBatch } from "../src/producer/pipeline.js";
import type { Outcome } from "../src/producer/request.js";
import { deferred, until } from "./support/fetch-tools.js";

interface Call {
  epoch: number;
  seq: number;
  close: boolean;
  answer: (outcome: Outcome) => void;
}

function harness(options: { maxInFlight?: number; autoClaim?: boolean; maxRetries?: number } = {}) {
  const calls: Call[] = [];
  const failures: Array<{ error: Error; dropped: number }> = [];
  const pipeline = new Pipeline({
    maxInFlight: options.maxInFlight ?? 5,
    autoClaim: options.autoClaim ?? false,
    backoff: { initialDelay: 1, maxDelay: 2, multiplier: 1, maxRetries: options.maxRetries ?? 5 },
    epoch: 0,
    send: (batch: WindowBatch) => {
      const answer = deferred<Outcome>();
      calls.push({ epoch: batch.epoch, seq: batch.seq, close: batch.closing !== undefined, answer: answer.resolve });
      return answer.promise;
    },
    onFailure: (error, dropped) => failures.push({ error, dropped }),
  });
  const body = new Uint8Array([1]);
  const ok: Outcome = { kind: "ok", offset: undefined, duplicate: false };
  const gap = (expected: number, received: number): Outcome => ({ kind: "gap", expected, error: new SequenceGapError(expected, received) });
  const stale = (current: number): Outcome => ({ kind: "stale", currentEpoch: current, error: new StaleEpochError(current) });
  const lost: Outcome = { kind: "retry", error: networkError("http://x", new TypeError("reset")), retryAfterMs: 0 };
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { pipeline, calls, failures, body, ok, gap, stale, lost, tick };
}

describe("Pipeline", () => {
  it("keeps at most maxInFlight batches out and sends in order", async () => {
    const { pipeline, calls, body, ok, tick } = harness({ maxInFlight: 2 });
    for (let i = 0; i < 5; i++) pipeline.enqueue(body, 1);
    expect(calls.map((c) => c.seq)).toEqual([0, 1]);
    calls[1]!.answer(ok);
    await tick();
    expect(calls.map((c) => c.seq)).toEqual([0, 1, 2]);
    calls[0]!.answer(ok);
    calls[2]!.answer(ok);
    await tick();
    expect(calls.map((c) => c.seq)).toEqual([0, 1, 2, 3, 4]);
    calls[3]!.answer(ok);
    calls[4]!.answer(ok);
    await pipeline.whenIdle();
    expect(pipeline.size).toBe(0);
  });

  it("parks a batch that overtook an earlier one until that one is acknowledged", async () => {
    const { pipeline, calls, body, ok, gap, tick } = harness();
    pipeline.enqueue(body, 1);
    pipeline.enqueue(body, 1);
    calls[1]!.answer(gap(0, 1));
    await tick();
    expect(calls).toHaveLength(2); // parked, not resent yet
    calls[0]!.answer(ok);
    await tick();
    expect(calls.map((c) => c.seq)).toEqual([0, 1, 1]);
    calls[2]!.answer(ok);
    await pipeline.whenIdle();
  });

  it("retries with the same stamp, and a duplicate answer counts as done", async () => {
    const { pipeline, calls, body, lost, tick } = harness();
    pipeline.enqueue(body, 1);
    calls[0]!.answer(lost);
    await until(() => calls.length === 2, "the retry");
    expect(calls[1]).toMatchObject({ epoch: 0, seq: 0 });
    calls[1]!.answer({ kind: "ok", offset: "0_5", duplicate: true });
    await pipeline.whenIdle();
    await tick();
    expect(pipeline.lastOffset).toBe("0_5");
  });

  it("fails after maxRetries, dropping and reporting everything pending", async () => {
    const { pipeline, calls, failures, body, lost } = harness({ maxRetries: 2, maxInFlight: 1 });
    pipeline.enqueue(body, 3);
    pipeline.enqueue(body, 4);
    const idle = pipeline.whenIdle();
    for (let attempt = 0; attempt < 3; attempt++) {
      await until(() => calls.length === attempt + 1, `attempt ${attempt + 1}`);
      calls[attempt]!.answer(lost);
    }
    await expect(idle).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(failures).toHaveLength(1);
    expect(failures[0]!.dropped).toBe(7);
    expect(pipeline.size).toBe(0);
    expect(() => pipeline.enqueue(body, 1)).toThrow();
    pipeline.reset(1);
    pipeline.enqueue(body, 1);
    expect(calls.at(-1)).toMatchObject({ epoch: 1, seq: 0 });
  });

  it("auto-claims: waits for the wire to drain, then restamps everything in order", async () => {
    const { pipeline, calls, body, ok, stale, tick } = harness({ autoClaim: true });
    for (let i = 0; i < 3; i++) pipeline.enqueue(body, 1);
    calls[0]!.answer(stale(7));
    await tick();
    expect(calls).toHaveLength(3); // nothing new while batches 1 and 2 are out
    calls[1]!.answer(stale(7));
    await tick();
    pipeline.enqueue(body, 1); // arrives during the claim
    expect(calls).toHaveLength(3);
    calls[2]!.answer(stale(7));
    await tick();
    expect(calls.slice(3).map((c) => [c.epoch, c.seq])).toEqual([
      [8, 0],
      [8, 1],
      [8, 2],
      [8, 3],
    ]);
    expect(pipeline.epoch).toBe(8);
    expect(pipeline.nextSeq).toBe(4);
    for (const call of calls.slice(3)) call.answer(ok);
    await pipeline.whenIdle();
  });

  it("without autoClaim a stale epoch fails the pipeline", async () => {
    const { pipeline, calls, failures, body, stale } = harness();
    pipeline.enqueue(body, 1);
    calls[0]!.answer(stale(2));
    await expect(pipeline.whenIdle()).rejects.toBeInstanceOf(StaleEpochError);
    expect(pipeline.serverEpoch).toBe(2);
    expect(failures).toHaveLength(1);
  });

  it("fails when the server claims to be past a batch it did not deduplicate", async () => {
    const { pipeline, calls, body, gap } = harness();
    pipeline.enqueue(body, 1);
    calls[0]!.answer(gap(3, 0));
    await expect(pipeline.whenIdle()).rejects.toBeInstanceOf(SequenceGapError);
  });

  it("ignores answers to requests from before a failure", async () => {
    const { pipeline, calls, body, ok, failures } = harness();
    pipeline.enqueue(body, 1);
    pipeline.enqueue(body, 1);
    pipeline.fail(new Error("stop"));
    calls[0]!.answer(ok);
    calls[1]!.answer(ok);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(failures).toHaveLength(1);
    expect(pipeline.lastOffset).toBeUndefined();
  });
});

describe("Pipeline: the close is the last batch", () => {
  it("goes alone once every earlier batch is acknowledged, and resolves with its offset", async () => {
    const { pipeline, calls, body, ok, tick } = harness({ maxInFlight: 5 });
    pipeline.enqueue(body, 1);
    pipeline.enqueue(body, 1);
    const closed = pipeline.close(undefined);
    await tick();
    expect(calls.map((c) => [c.seq, c.close])).toEqual([
      [0, false],
      [1, false],
    ]);
    calls[1]!.answer(ok);
    await tick();
    expect(calls).toHaveLength(2); // batch 0 is still out
    calls[0]!.answer(ok);
    await tick();
    expect(calls.map((c) => [c.seq, c.close])).toEqual([
      [0, false],
      [1, false],
      [2, true],
    ]);
    calls[2]!.answer({ kind: "ok", offset: "0_9", duplicate: false });
    await expect(closed).resolves.toBe("0_9");
    expect(pipeline.size).toBe(0);
  });

  it("retries the close under the same rules and with the same stamp", async () => {
    const { pipeline, calls, body, ok, lost } = harness();
    pipeline.enqueue(body, 1);
    const closed = pipeline.close(body);
    await until(() => calls.length === 1, "the batch");
    calls[0]!.answer(ok);
    await until(() => calls.length === 2, "the close");
    calls[1]!.answer(lost);
    await until(() => calls.length === 3, "the close again");
    expect(calls[2]).toMatchObject({ epoch: 0, seq: 1, close: true });
    calls[2]!.answer({ kind: "ok", offset: "0_4", duplicate: true });
    await expect(closed).resolves.toBe("0_4");
  });

  it("a failed close fails alone and keeps its stamp when queued again", async () => {
    const { pipeline, calls, failures, body, ok } = harness();
    const refused: Outcome = { kind: "fatal", error: new StreamClosedError("http://x", "0_3") };
    pipeline.enqueue(body, 1);
    const first = pipeline.close(undefined);
    await until(() => calls.length === 1, "the batch");
    calls[0]!.answer(ok);
    await until(() => calls.length === 2, "the close");
    calls[1]!.answer(refused);
    await expect(first).rejects.toBeInstanceOf(StreamClosedError);
    expect(failures).toHaveLength(0);
    await pipeline.whenIdle();
    const second = pipeline.close(undefined);
    await until(() => calls.length === 3, "the second close");
    expect(calls[2]).toMatchObject({ epoch: 0, seq: 1, close: true });
    calls[2]!.answer(ok);
    await second;
    expect(pipeline.nextSeq).toBe(2);
  });

  it("a gap on the close is not a race: it fails the close at once", async () => {
    const { pipeline, calls, body, gap, tick } = harness();
    const closed = pipeline.close(body);
    await tick();
    calls[0]!.answer(gap(4, 0));
    await expect(closed).rejects.toBeInstanceOf(SequenceGapError);
    expect(calls).toHaveLength(1);
  });

  it("a failure before it rejects the close with that failure", async () => {
    const { pipeline, calls, failures, body, lost, tick } = harness({ maxRetries: 0 });
    pipeline.enqueue(body, 2);
    const closed = pipeline.close(body);
    await tick();
    calls[0]!.answer(lost);
    await expect(closed).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(failures).toEqual([expect.objectContaining({ dropped: 3 })]);
    expect(calls.some((c) => c.close)).toBe(false);
  });

  it("an auto-claim restamps the close with the batches before it", async () => {
    const { pipeline, calls, body, ok, stale, tick } = harness({ autoClaim: true });
    pipeline.enqueue(body, 1);
    const closed = pipeline.close(undefined);
    await tick();
    calls[0]!.answer(stale(3));
    await until(() => calls.length === 2, "the restamped batch");
    expect(calls[1]).toMatchObject({ epoch: 4, seq: 0, close: false });
    calls[1]!.answer(ok);
    await until(() => calls.length === 3, "the restamped close");
    expect(calls[2]).toMatchObject({ epoch: 4, seq: 1, close: true });
    calls[2]!.answer(ok);
    await closed;
  });
});
