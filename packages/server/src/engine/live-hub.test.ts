import { describe, expect, it } from "vitest";
import { LiveHub, type LiveEvent } from "./live-hub.js";

const event = (path: string, start: number, end = start + 1) => ({ path, start, end, data: null, closed: false, gone: false });
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
async function settle(turns = 200): Promise<void> {
  for (let i = 0; i < turns; i++) await turn();
}

/** A listener that costs `micros` of CPU per event, like a socket write would. */
function busy(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until) {
    // spin
  }
}

describe("LiveHub", () => {
  it("hands a small stream's readers each event at once, in order", () => {
    const hub = new LiveHub();
    const got: number[][] = [[], []];
    got.forEach((list) => hub.subscribe("/a", (e) => list.push(e.start)));
    hub.publish(event("/a", 0));
    hub.publish(event("/a", 1));
    hub.publish(event("/b", 7));
    expect(got).toEqual([[0, 1], [0, 1]]);
  });

  it("spreads a large fan-out over several turns, and every reader gets every event once, in order", async () => {
    const hub = new LiveHub();
    const readers = 3000;
    const seen: number[][] = Array.from({ length: readers }, () => []);
    let gathered = 0;
    for (let i = 0; i < readers; i++) {
      hub.subscribe("/s", (e, more) => {
        busy(20);
        if (more > 0) gathered++;
        seen[i]!.push(e.start);
      });
    }
    hub.publish(event("/s", 0));
    // 3,000 readers at 20 µs each is 60 ms of work: the first turn stops well before the last reader.
    const reachedInFirstTurn = seen.filter((list) => list.length > 0).length;
    expect(reachedInFirstTurn).toBeGreaterThan(0);
    expect(reachedInFirstTurn).toBeLessThan(readers);
    // Events published while the first is still being handed out queue behind it.
    hub.publish(event("/s", 1));
    await turn();
    hub.publish(event("/s", 2));
    await settle();
    for (const list of seen) expect(list).toEqual([0, 1, 2]);
    // Readers the first turns did not reach took the queued events together.
    expect(gathered).toBeGreaterThan(0);
  });

  it("keeps serving the others when a reader unsubscribes or throws while being served", async () => {
    const hub = new LiveHub();
    const got: string[] = [];
    hub.subscribe("/x", () => got.push("first"));
    const unsubscribe = hub.subscribe("/x", () => {
      got.push("leaving");
      unsubscribe();
    });
    hub.subscribe("/x", () => {
      throw new Error("reader failed");
    });
    hub.subscribe("/x", () => got.push("last"));
    hub.publish(event("/x", 0));
    hub.publish(event("/x", 1));
    expect(got).toEqual(["first", "leaving", "last", "first", "last"]);
    expect(hub.readersOf("/x")).toBe(3);
  });

  it("does not hand a new reader the events queued before it subscribed", async () => {
    const hub = new LiveHub();
    const late: number[] = [];
    for (let i = 0; i < 2000; i++) hub.subscribe("/q", () => busy(20));
    hub.publish(event("/q", 0)); // still being handed out after this turn
    hub.subscribe("/q", (e) => late.push(e.start));
    hub.publish(event("/q", 1));
    await settle();
    expect(late).toEqual([1]);
  });

  it("hands an event published by a reader after the one being served", () => {
    const hub = new LiveHub();
    const got: Array<[string, number]> = [];
    hub.subscribe("/r", (e: LiveEvent) => {
      got.push(["a", e.start]);
      if (e.start === 0) hub.publish(event("/r", 1));
    });
    hub.subscribe("/r", (e: LiveEvent) => got.push(["b", e.start]));
    hub.publish(event("/r", 0));
    expect(got).toEqual([["a", 0], ["b", 0], ["a", 1], ["b", 1]]);
  });

  it("forgets a stream once its last reader leaves", () => {
    const hub = new LiveHub();
    const off = hub.subscribe("/gone", () => undefined);
    expect(hub.isWatched("/gone")).toBe(true);
    off();
    off();
    expect(hub.isWatched("/gone")).toBe(false);
    expect(hub.watchedPaths()).toEqual([]);
  });
});
