import { afterEach, describe, expect, it, vi } from "vitest";
import { Engine } from "../engine/engine.js";
import { MemoryStore } from "../storage/memory-store.js";
import { BIG, createCommand, text } from "../storage/test-support.js";
import { parseSubscriptionConfig } from "./config.js";
import { SubscriptionManager } from "./manager.js";
import { MemorySubscriptionStore } from "./memory-store.js";
import type { SubscriptionBatch, SubscriptionStore } from "./store.js";

// The subscription observer runs after an append is acknowledged, off its
// path. These tests show that no wake is lost that way: not when the
// observer is slow, not when it fails once, and not when the server stops
// before it ran (the next start raises the wake).

/** A subscription store whose commits a test can hold back or fail, over one shared memory store. */
class ControlledStore implements SubscriptionStore {
  readonly kind = "memory";
  /** When set, each commit waits for it first (it may reject). */
  gate: Promise<void> | null = null;
  failNext = 0;
  commits = 0;

  constructor(private readonly inner: MemorySubscriptionStore) {}

  load() {
    return this.inner.load();
  }
  async commit(batch: SubscriptionBatch): Promise<void> {
    this.commits++;
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("injected subscription store failure");
    }
    await this.inner.commit(batch);
  }
  loadSecrets() {
    return this.inner.loadSecrets();
  }
  saveSecrets(secrets: Parameters<SubscriptionStore["saveSecrets"]>[0]) {
    return this.inner.saveSecrets(secrets);
  }
  async close(): Promise<void> {}
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const closable of open.splice(0).reverse()) await closable.close();
});

async function fixture() {
  const engine = new Engine(new MemoryStore(), { maxReadBytes: BIG, sweepIntervalMs: 0, maintenance: { intervalMs: 0 } });
  open.push(engine);
  const shared = new MemorySubscriptionStore();
  const startManager = async (store = new ControlledStore(shared)) => {
    const manager = await SubscriptionManager.open({ engine, store, warn: () => undefined });
    open.push(manager);
    return { manager, store };
  };
  for (const path of ["tasks", "wake"]) await engine.create({ ...createCommand(path, { contentType: "application/json" }), fork: null });
  const first = await startManager();
  await first.manager.put(
    "pool",
    parseSubscriptionConfig({ type: "pull-wake", streams: ["tasks"], wake_stream: "wake" }),
    "http://rill.test/v1/stream",
  );
  const append = (data: string) =>
    engine.append({ path: "tasks", contentType: "application/json", data: Buffer.from(data), streamSeq: null, producer: null, close: false });
  /** The wake events appended to the wake stream so far. */
  const wakes = async (): Promise<Array<{ generation: number; streams: string[] }>> => {
    const tail = (await engine.store.getStream("wake"))!.tail;
    const body = text(await engine.store.readRange("wake", 0, tail, BIG, true));
    return body === "" ? [] : (JSON.parse(`[${body.slice(0, -1)}]`) as Array<{ generation: number; streams: string[] }>);
  };
  return { engine, startManager, store: first.store, append, wakes };
}

describe("subscription observers off the append path", () => {
  it("acknowledges an append before a slow observer has run, and the observer then raises the wake", async () => {
    const { store, append, wakes } = await fixture();
    let release: () => void = () => undefined;
    store.gate = new Promise<void>((resolve) => (release = resolve));
    const before = store.commits;

    const outcome = await append('{"job":1},');
    expect(outcome.kind).toBe("appended");
    // The append is answered while the observer is still held back in its commit (or not even started).
    expect(await wakes()).toEqual([]);

    await vi.waitFor(() => expect(store.commits).toBeGreaterThan(before));
    expect(await wakes()).toEqual([]);
    release();
    const events = await vi.waitFor(async () => {
      const got = await wakes();
      expect(got).toHaveLength(1);
      return got;
    });
    expect(events[0]).toMatchObject({ generation: 1, streams: ["tasks"] });
  });

  it("retries an observer that failed once, and the wake is raised once", async () => {
    const { store, append, wakes } = await fixture();
    store.failNext = 1;
    await append('{"job":1},');
    const events = await vi.waitFor(async () => {
      const got = await wakes();
      expect(got).toHaveLength(1);
      return got;
    });
    expect(events[0]).toMatchObject({ generation: 1, streams: ["tasks"] });
    expect(store.failNext).toBe(0);
    // Nothing else is pending: no second wake follows.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await wakes()).toHaveLength(1);
  });

  it("raises the wake when the server starts again after stopping before the observer ran", async () => {
    const { store, append, wakes, startManager } = await fixture();
    let fail: (error: Error) => void = () => undefined;
    store.gate = new Promise<void>((_, reject) => (fail = reject));
    const before = store.commits;
    await append('{"job":1},');
    // The first server's observer is stuck in its commit: the wake is not in the store.
    await vi.waitFor(() => expect(store.commits).toBeGreaterThan(before));
    expect(await wakes()).toEqual([]);

    // A new start over the same durable state (the first server never committed the wake).
    await startManager();
    const events = await vi.waitFor(async () => {
      const got = await wakes();
      expect(got.length).toBeGreaterThanOrEqual(1);
      return got;
    });
    expect(events[0]).toMatchObject({ generation: 1, streams: ["tasks"] });
    fail(new Error("the first server is gone"));
  });
});
