import { describe, expect, it } from "vitest";
import type { AppendOutcome } from "../domain/commands.js";
import type { ProtocolError } from "../domain/errors.js";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, bytes, createCommand, producer, T0 } from "./test-support.js";

/** Requests issued together without waiting: order, positions, refusals that fail alone. */
export function concurrencyTests(suite: StoreSuite): void {
  const { contents } = suite;

  describe("concurrency", () => {
    it("applies appends issued without waiting in order, at contiguous positions", async () => {
      await suite.store.create(createCommand("c1"), T0);
      await suite.store.create(createCommand("c2"), T0);
      const issued: { path: string; part: string; promise: Promise<AppendOutcome> }[] = [];
      for (let i = 0; i < 300; i++) {
        const path = i % 3 === 0 ? "c2" : "c1";
        const part = `<${i}>`;
        issued.push({ path, part, promise: suite.store.append(appendCommand(path, part), T0) });
      }
      const outcomes = await Promise.all(issued.map((x) => x.promise));
      const expected: Record<string, string> = { c1: "", c2: "" };
      outcomes.forEach((outcome, i) => {
        const { path, part } = issued[i]!;
        expect(outcome.kind).toBe("appended");
        expect(outcome.start).toBe(expected[path]!.length);
        expected[path] += part;
      });
      expect(await contents("c1")).toBe(expected.c1);
      expect(await contents("c2")).toBe(expected.c2);
    });

    it("accepts a producer's pipelined sequence numbers", async () => {
      await suite.store.create(createCommand("p"), T0);
      const sends = Array.from({ length: 100 }, (_, seq) =>
        suite.store.append(appendCommand("p", `${seq},`, { producer: producer("w", 0, seq) }), T0),
      );
      const outcomes = await Promise.all(sends);
      outcomes.forEach((outcome, seq) => expect(outcome).toMatchObject({ kind: "appended", producer: { epoch: 0, seq } }));
      expect(await contents("p")).toBe(Array.from({ length: 100 }, (_, i) => `${i},`).join(""));
    });

    it("fails a refused request alone, without disturbing the others issued with it", async () => {
      await suite.store.create(createCommand("k", { contentType: "text/plain" }), T0);
      const results = await Promise.allSettled([
        suite.store.append(appendCommand("k", "one"), T0),
        suite.store.append(appendCommand("k", "{}", { contentType: "application/json" }), T0),
        suite.store.append(appendCommand("k", "two", { producer: producer("p", 0, 0) }), T0),
        suite.store.append(appendCommand("nowhere", "x"), T0),
        suite.store.append(appendCommand("k", "gap", { producer: producer("p", 0, 5) }), T0),
        suite.store.create(createCommand("k", { contentType: "application/json" }), T0),
        suite.store.append(appendCommand("k", "three"), T0),
      ]);
      const summary = results.map((r) =>
        r.status === "fulfilled" ? "ok" : (r.reason as ProtocolError).code,
      );
      expect(summary).toEqual([
        "ok",
        "CONTENT_TYPE_MISMATCH",
        "ok",
        "STREAM_NOT_FOUND",
        "PRODUCER_SEQ_GAP",
        "STREAM_EXISTS",
        "ok",
      ]);
      expect(await contents("k")).toBe("onetwothree");
    });

    it("orders creates, appends and deletes issued together as issued", async () => {
      const results = await Promise.allSettled([
        suite.store.create(createCommand("n", { data: bytes("a") }), T0),
        suite.store.create(createCommand("n", { data: bytes("a") }), T0),
        suite.store.append(appendCommand("n", "b"), T0),
        suite.store.delete("n", T0),
        suite.store.append(appendCommand("n", "c"), T0),
        suite.store.create(createCommand("n", { data: bytes("d") }), T0),
        suite.store.append(appendCommand("n", "e"), T0),
      ]);
      const summary = results.map((r) => {
        if (r.status === "rejected") return (r.reason as ProtocolError).code;
        const value = r.value as { created?: boolean; kind?: string; soft?: boolean };
        return value.created ?? value.kind ?? `soft=${value.soft}`;
      });
      expect(summary).toEqual([true, false, "appended", "soft=false", "STREAM_NOT_FOUND", true, "appended"]);
      expect(await contents("n")).toBe("de");
    });
  });
}
