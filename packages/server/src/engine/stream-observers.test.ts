import { describe, expect, it } from "vitest";
import type { StreamState } from "../domain/model.js";
import { StreamObservers, type StreamChange } from "./stream-observers.js";

const state = (path: string, tail: number) => ({ path, tail }) as StreamState;
const appended = (path: string, start: number, tail: number): StreamChange => ({ type: "appended", stream: state(path, tail), start });
const summary = (change: StreamChange) =>
  change.type === "deleted" ? `deleted ${change.path}` : `${change.type} ${change.stream.path} ${change.type === "appended" ? change.start : ""}-${change.stream.tail}`;

describe("StreamObservers", () => {
  it("returns from notify at once and hands changes over later, in commit order", async () => {
    const observers = new StreamObservers();
    const seen: string[] = [];
    observers.add((change) => void seen.push(summary(change)));
    observers.notify({ type: "created", stream: state("a", 0), dataBytes: 0 });
    observers.notify(appended("a", 0, 3));
    observers.notify({ type: "deleted", path: "a" });
    expect(seen).toEqual([]);
    await observers.idle();
    expect(seen).toEqual(["created a -0", "appended a 0-3", "deleted a"]);
  });

  it("reports waiting appends to one stream as one change, from the first start to the latest tail", async () => {
    const observers = new StreamObservers();
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    observers.add(async (change) => {
      seen.push(summary(change));
      if (seen.length === 1) await held;
    });
    observers.notify(appended("a", 0, 1));
    await new Promise((resolve) => setImmediate(resolve));
    // The first change is being observed; these wait behind it.
    observers.notify(appended("a", 1, 2));
    observers.notify(appended("b", 0, 5));
    observers.notify(appended("a", 2, 4));
    observers.notify({ type: "deleted", path: "b" });
    observers.notify(appended("b", 0, 1));
    release();
    await observers.idle();
    expect(seen).toEqual(["appended a 0-1", "appended a 1-4", "appended b 0-5", "deleted b", "appended b 0-1"]);
  });

  it("offers a change again to an observer that failed on it", async () => {
    const observers = new StreamObservers();
    let calls = 0;
    const other: string[] = [];
    observers.add(() => {
      calls++;
      if (calls === 1) throw new Error("once");
    });
    observers.add((change) => void other.push(summary(change)));
    observers.notify(appended("a", 0, 1));
    await observers.idle();
    expect(calls).toBe(2);
    expect(other).toEqual(["appended a 0-1"]);
  });
});
