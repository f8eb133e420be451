/**
 * Exactly-once under faults: a fault-injecting fetch sits between the
 * producer and the server. It refuses connections, returns 503s, holds
 * requests back until a later one has been answered (so they arrive out of
 * order), delays answers, and drops answers after the server has applied the
 * append. With thousands of messages and five batches in flight, the stream
 * must end up with every message exactly once, in order.
 */
import { describe, expect, it } from "vitest";
import { DurableStream, IdempotentProducer, stream } from "../src/index.js";
import { seeded, truncate } from "./support/fetch-tools.js";
import { useTestServer } from "./support/servers.js";

const server = useTestServer({ longPollTimeoutMs: 300 });

interface FaultStats {
  requests: number;
  refused: number;
  unavailable: number;
  heldBack: number;
  lostAnswers: number;
  delayedAnswers: number;
  gaps: number;
  duplicates: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function faultyFetch(seed: number) {
  const random = seeded(seed);
  const stats: FaultStats = { requests: 0, refused: 0, unavailable: 0, heldBack: 0, lostAnswers: 0, delayedAnswers: 0, gaps: 0, duplicates: 0 };
  let answered: Array<() => void> = [];
  /** Resolves once some other request has been answered (or after 40 ms if none is). */
  const overtaken = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 40);
      answered.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  const fetch: typeof globalThis.fetch = async (input, init) => {
    if (init?.method !== "POST") return globalThis.fetch(input, init);
    stats.requests++;
    // Draw every roll up front so the fault mix depends only on the seed.
    const [before, status, after, jitter] = [random(), random(), random(), random()];
    if (before < 0.07) {
      stats.refused++;
      throw new TypeError("connect ECONNRESET");
    }
    if (before < 0.2) {
      stats.heldBack++;
      await overtaken();
    } else if (before < 0.3) {
      await pause(jitter * 4);
    }
    if (status < 0.04) {
      stats.unavailable++;
      return new Response("overloaded", { status: 503 });
    }
    const response = await globalThis.fetch(input, init);
    const waiting = answered;
    answered = [];
    waiting.forEach((release) => release());
    if (response.status === 409 && response.headers.has("producer-expected-seq")) stats.gaps++;
    if (response.status === 204) stats.duplicates++;
    if (after < 0.1) {
      stats.lostAnswers++;
      await response.body?.cancel();
      throw new TypeError("socket hang up");
    }
    if (after < 0.18) {
      stats.delayedAnswers++;
      await pause(jitter * 6);
    }
    return response;
  };
  return { fetch, stats };
}

describe.each([
  { contentType: "application/json", seed: 1, messages: 4000 },
  { contentType: "text/plain", seed: 7, messages: 3000 },
])("exactly once into $contentType", ({ contentType, seed, messages }) => {
  it(`${messages} messages through dropped, refused, reordered and delayed requests`, async () => {
    const url = server.streamUrl("eo");
    const json = contentType === "application/json";
    const handle = await DurableStream.create({ url, contentType });
    const { fetch, stats } = faultyFetch(seed);
    const errors: Error[] = [];
    const producer = new IdempotentProducer(handle, `eo-${seed}`, {
      fetch,
      maxInFlight: 5,
      maxBatchBytes: 240,
      lingerMs: 1,
      backoffOptions: { initialDelay: 1, maxDelay: 15, multiplier: 2, maxRetries: 60 },
      onError: (error) => errors.push(error),
    });

    // A live reader follows along, over connections that keep breaking.
    let cuts = 0;
    const readerFetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      return response.body && ++cuts % 4 === 0 ? truncate(response, 100, "error") : response;
    };
    const reader = await stream({ url, fetch: readerFetch, live: "long-poll", backoffOptions: { initialDelay: 1, maxDelay: 10, multiplier: 2 } });
    const seen: string[] = [];
    if (json) {
      reader.subscribeJson<number>((batch) => {
        seen.push(...batch.items.map(String));
      });
    } else {
      let text = "";
      reader.subscribeText((chunk) => {
        text += chunk.text;
        const lines = text.split("\n");
        text = lines.pop()!;
        seen.push(...lines);
      });
    }

    for (let i = 0; i < messages; i++) {
      producer.append(json ? i : `${i}\n`);
      if (i % 250 === 249) await pause(1);
    }
    await producer.flush();
    expect(producer.inFlightCount).toBe(0);
    expect(producer.pendingCount).toBe(0);
    await producer.close();
    await reader.closed;

    const expected = Array.from({ length: messages }, (_, i) => String(i));
    const stored = json
      ? ((await (await stream({ url, live: false })).json()) as number[]).map(String)
      : (await (await stream({ url, live: false })).text()).split("\n").slice(0, -1);
    expect(errors).toEqual([]);
    expect(stored).toEqual(expected);
    expect(seen).toEqual(expected);
    // The faults really happened.
    expect(stats.refused).toBeGreaterThan(0);
    expect(stats.unavailable).toBeGreaterThan(0);
    expect(stats.heldBack).toBeGreaterThan(0);
    expect(stats.lostAnswers).toBeGreaterThan(0);
    expect(stats.delayedAnswers).toBeGreaterThan(0);
    expect(stats.gaps).toBeGreaterThan(0);
    expect(stats.duplicates).toBeGreaterThan(0);
  }, 60_000);
});
