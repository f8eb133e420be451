import { describe, expect, it, vi } from "vitest";
import { CommitQueue, type RoundPolicy, type Touches } from "./commit-queue.js";
import type { Op, Settled } from "./commit-requests.js";

const sweep = (now: number): Op => ({ kind: "sweep", now });
const append = (path: string, data: string): Op => ({
  kind: "append",
  now: 0,
  command: { path, data: new TextEncoder().encode(data) } as never,
});
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A queue whose rounds are recorded and answered by `answer` (each request's value: its `now`). */
function queueWith(
  policy: RoundPolicy,
  answer?: (ops: Op[], touches: Touches) => Settled[] | Promise<Settled[]>,
  maxRoundsInFlight = 1,
) {
  const rounds: { ops: Op[]; touches: Map<string, number> }[] = [];
  const queue = new CommitQueue({
    store: "sqlite",
    policy,
    maxRoundsInFlight,
    touchFlushMs: 20,
    limits: { maxAppends: 2, maxBytes: 0 },
    runRound: (ops, touches) => {
      rounds.push({ ops, touches: new Map(touches) });
      if (answer) return answer(ops, touches);
      return ops.map((op) => ({ ok: true, value: op.kind === "sweep" ? op.now : null }));
    },
  });
  return { queue, rounds };
}

describe("CommitQueue", () => {
  it("carries everything queued in one turn in one round and answers each request from its result", async () => {
    const { queue, rounds } = queueWith("linger", (ops) =>
      ops.map((op, i) => (i === 1 ? { ok: false, error: new Error("refused") } : { ok: true, value: (op as { now: number }).now })),
    );
    const results = await Promise.allSettled([1, 2, 3].map((n) => queue.enqueue<number>(sweep(n))));
    expect(rounds).toHaveLength(1);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual([1, "refused", 3]);
  });

  it("starts no round while an asynchronous one is settling, and then carries what arrived meanwhile", async () => {
    for (const policy of ["linger", "serial"] as const) {
      let finish: () => void = () => undefined;
      const { queue, rounds } = queueWith(policy, (ops) => {
        const results: Settled[] = ops.map(() => ({ ok: true, value: rounds.length }));
        return new Promise((resolve) => (finish = () => resolve(results)));
      });
      const first = queue.enqueue<number>(sweep(1));
      await turn();
      expect(rounds).toHaveLength(1);
      const later = [queue.enqueue<number>(sweep(2)), queue.enqueue<number>(sweep(3))];
      await turn();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(rounds).toHaveLength(1); // the first round has not resolved: nothing else starts
      expect(queue.pending).toBe(2);
      finish();
      expect(await first).toBe(1);
      await vi.waitFor(() => expect(rounds).toHaveLength(2));
      expect(rounds[1]!.ops).toHaveLength(2);
      finish();
      expect(await Promise.all(later)).toEqual([2, 2]);
    }
  });

  it("starts rounds while earlier ones await their answer, up to maxRoundsInFlight, and settles them in the order they started", async () => {
    const finishers: Array<() => void> = [];
    const { queue, rounds } = queueWith(
      "linger",
      (ops) => {
        const results: Settled[] = ops.map(() => ({ ok: true, value: rounds.length }));
        // The third round answers at once; the others when the test lets them.
        if (rounds.length === 3) return results;
        return new Promise((resolve) => finishers.push(() => resolve(results)));
      },
      3,
    );
    const order: number[] = [];
    const settle = (n: number) => queue.enqueue<number>(sweep(n)).then((round) => order.push(round));
    const first = settle(1);
    await turn();
    const second = settle(2);
    await turn();
    const third = settle(3);
    await turn();
    const fourth = settle(4);
    await turn();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(rounds).toHaveLength(3); // the fourth waits: three rounds are in flight
    finishers[1]!(); // the second round answers first
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(order).toEqual([]);
    finishers[0]!();
    await Promise.all([first, second, third]);
    expect(order).toEqual([1, 2, 3]);
    await vi.waitFor(() => expect(rounds).toHaveLength(4));
    finishers[2]!();
    await fourth;
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it("fails every request of a round that fails whole, and puts its touches back for the timer", async () => {
    let failing = true;
    const { queue, rounds } = queueWith("linger", (ops) => {
      if (failing) throw new Error("disk full");
      return ops.map(() => ({ ok: true, value: null }));
    });
    queue.touch("t", 100);
    const results = await Promise.allSettled([queue.enqueue(sweep(1)), queue.enqueue(sweep(2))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(rounds[0]!.touches).toEqual(new Map([["t", 100]]));
    expect(queue.withTouch({ path: "t", ttlSeconds: 5, lastAccessAt: 50 } as never)).toMatchObject({ lastAccessAt: 100 });
    failing = false;
    await vi.waitFor(() => expect(rounds).toHaveLength(2));
    expect(rounds[1]!.ops).toHaveLength(0);
    expect(rounds[1]!.touches).toEqual(new Map([["t", 100]]));
    expect(queue.withTouch({ path: "t", ttlSeconds: 5, lastAccessAt: 50 } as never)).toMatchObject({ lastAccessAt: 50 });
  });

  it("flushes touches by their deadline without any write", async () => {
    const { queue, rounds } = queueWith("serial");
    queue.touch("a", 10, Date.now() + 1);
    queue.touch("a", 5); // older than the one held: ignored
    await vi.waitFor(() => expect(rounds).toHaveLength(1));
    expect(rounds).toEqual([{ ops: [], touches: new Map([["a", 10]]) }]);
  });

  it("refuses appends past the backlog bound with 503 COMMIT_QUEUE_FULL, and counts them out once settled", async () => {
    const { queue } = queueWith("linger");
    const held = [queue.enqueue(append("s", "a")), queue.enqueue(append("s", "b"))];
    await expect(queue.enqueue(append("s", "c"))).rejects.toMatchObject({ code: "COMMIT_QUEUE_FULL" });
    await Promise.all(held);
    await expect(queue.enqueue(append("s", "d"))).resolves.toBeNull();
  });

  it("commits what is queued on close, waiting for a running round, and refuses requests after", async () => {
    let finish: () => void = () => undefined;
    const { queue, rounds } = queueWith("serial", (ops) => {
      const results: Settled[] = ops.map(() => ({ ok: true, value: rounds.length }));
      return new Promise((resolve) => (finish = () => resolve(results)));
    });
    const first = queue.enqueue(sweep(1));
    await turn();
    const second = queue.enqueue(sweep(2));
    queue.touch("a", 10);
    const closed = queue.close();
    finish();
    await first;
    await turn();
    expect(rounds).toHaveLength(2);
    expect(rounds[1]).toEqual({ ops: [sweep(2)], touches: new Map([["a", 10]]) });
    finish();
    await closed;
    expect(await second).toBe(2);
    await expect(queue.enqueue(sweep(3))).rejects.toThrow(/the SQLite store is closed/);
  });
});
