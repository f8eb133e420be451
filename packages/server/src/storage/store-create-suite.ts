import { describe, expect, it } from "vitest";
import type { StoreSuite } from "./store-suite.js";
import { appendCommand, BIG, bytes, createCommand, fork, producer, refused, SECOND, T0, text } from "./test-support.js";

/** Creating streams: new, confirmed, refused, closed, forked, and replacing expired ones. */
export function createTests(suite: StoreSuite): void {
  const { contents } = suite;

  describe("create", () => {
    it("creates a new stream holding its initial data", async () => {
      const outcome = await suite.store.create(createCommand("a", { data: bytes("hello") }), T0);
      expect(outcome.created).toBe(true);
      expect(outcome.stream).toMatchObject({
        path: "a",
        contentType: "application/octet-stream",
        tail: 5,
        createdAt: T0,
        closed: false,
        forkedFrom: null,
        forkOffset: 0,
        forkCount: 0,
        softDeleted: false,
      });
      expect(await suite.store.getStream("a")).toEqual(outcome.stream);
      expect(await contents("a")).toBe("hello");
      expect(await suite.store.getStream("b")).toBeUndefined();
    });

    it("confirms an identical stream instead of creating it again", async () => {
      const command = createCommand("a", { data: bytes("abc"), ttlSeconds: 60 });
      await suite.store.create(command, T0);
      await suite.store.append(appendCommand("a", "def"), T0 + 1);
      const again = await suite.store.create(command, T0 + 2);
      expect(again.created).toBe(false);
      expect(again.stream.tail).toBe(6);
      expect(again.stream.createdAt).toBe(T0);
      expect(await contents("a")).toBe("abcdef");
      // Content types match by media type, ignoring parameters and case.
      await suite.store.create(createCommand("j", { contentType: "application/json" }), T0);
      const json = await suite.store.create(createCommand("j", { contentType: "Application/JSON; charset=utf-8" }), T0);
      expect(json.created).toBe(false);
      expect(json.stream.contentType).toBe("application/json");
    });

    it("refuses a different configuration at an existing path with 409", async () => {
      await suite.store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 60 }), T0);
      await refused(suite.store.create(createCommand("a", { contentType: "application/json", ttlSeconds: 60 }), T0), 409, "STREAM_EXISTS");
      await refused(suite.store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 61 }), T0), 409, "STREAM_EXISTS");
      await refused(suite.store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: null }), T0), 409, "STREAM_EXISTS");
      await refused(
        suite.store.create(createCommand("a", { contentType: "text/plain", ttlSeconds: 60, closed: true }), T0),
        409,
        "STREAM_EXISTS",
      );
      expect((await suite.store.getStream("a"))?.contentType).toBe("text/plain");
    });

    it("stores JSON and binary content byte for byte, and the content type as given", async () => {
      const framed = '{"a":1},[2,"x,y"],"z",';
      const json = await suite.store.create(
        createCommand("j", { contentType: "application/json; charset=utf-8", data: bytes(framed) }),
        T0,
      );
      expect(json.stream.contentType).toBe("application/json; charset=utf-8");
      expect(await contents("j")).toBe(framed);

      const binary = new Uint8Array(256).map((_, i) => i);
      await suite.store.create(createCommand("b", { contentType: null, data: binary }), T0);
      expect((await suite.store.getStream("b"))?.contentType).toBe("application/octet-stream");
      expect(Array.from((await suite.store.readRange("b", 0, 256, BIG, true)).data)).toEqual(Array.from(binary));
    });

    it("creates a stream already closed", async () => {
      const outcome = await suite.store.create(createCommand("c", { closed: true, data: bytes("fin") }), T0);
      expect(outcome.stream.closed).toBe(true);
      await refused(suite.store.append(appendCommand("c", "more"), T0), 409, "STREAM_CLOSED");
      expect(await contents("c")).toBe("fin");
    });

    it("forks a stream at a position and counts the fork on its source", async () => {
      await suite.store.create(createCommand("s", { contentType: "text/plain", ttlSeconds: 300, data: bytes("0123456789") }), T0);
      const f = await suite.store.create(createCommand("f", { contentType: null, fork: fork("s", 4) }), T0 + 1);
      expect(f.created).toBe(true);
      expect(f.stream).toMatchObject({
        forkedFrom: "s",
        forkOffset: 4,
        tail: 4,
        contentType: "text/plain",
        ttlSeconds: 300,
      });
      expect((await suite.store.getStream("s"))?.forkCount).toBe(1);

      const g = await suite.store.create(createCommand("g", { contentType: null, fork: fork("s", 10), data: bytes("XY") }), T0);
      expect(g.stream).toMatchObject({ forkOffset: 10, tail: 12 });
      expect((await suite.store.getStream("s"))?.forkCount).toBe(2);
      // A fork stores only its own bytes; those below the fork point belong to the source.
      expect(text(await suite.store.readRange("g", 10, 12, BIG, true))).toBe("XY");

      const appended = await suite.store.append(appendCommand("f", "abc"), T0 + 2);
      expect(appended.start).toBe(4);
      expect(text(await suite.store.readRange("f", 4, 7, BIG, true))).toBe("abc");
      expect(await contents("s")).toBe("0123456789");

      // Confirming the fork again does not count it twice.
      const again = await suite.store.create(createCommand("f", { contentType: null, fork: fork("s", 4) }), T0 + 3);
      expect(again.created).toBe(false);
      expect((await suite.store.getStream("s"))?.forkCount).toBe(2);
    });

    it("refuses to fork a missing source with 404", async () => {
      await refused(suite.store.create(createCommand("f", { fork: fork("nope", 0) }), T0), 404, "FORK_SOURCE_NOT_FOUND");
      expect(await suite.store.getStream("f")).toBeUndefined();
    });

    it("refuses to fork a deleted source with 409, even while forks keep it", async () => {
      await suite.store.create(createCommand("s", { data: bytes("abc") }), T0);
      await suite.store.create(createCommand("f1", { fork: fork("s", 3) }), T0);
      expect(await suite.store.delete("s", T0)).toEqual({ soft: true });
      await refused(suite.store.create(createCommand("f2", { fork: fork("s", 3) }), T0), 409, "FORK_SOURCE_GONE");
      expect(await suite.store.getStream("f2")).toBeUndefined();
      expect((await suite.store.getStream("s"))?.forkCount).toBe(1);
    });

    it("refuses a fork point past the source's tail", async () => {
      await suite.store.create(createCommand("s", { data: bytes("abc") }), T0);
      await refused(suite.store.create(createCommand("f", { fork: fork("s", 4) }), T0), 400, "FORK_OFFSET_OUT_OF_RANGE");
      expect((await suite.store.getStream("s"))?.forkCount).toBe(0);
    });

    it("replaces an expired stream with a fresh one", async () => {
      await suite.store.create(createCommand("e", { ttlSeconds: 10, data: bytes("old data") }), T0);
      await suite.store.append(appendCommand("e", "!", { producer: producer("p", 0, 0) }), T0);
      const later = T0 + 11 * SECOND;
      const outcome = await suite.store.create(createCommand("e", { data: bytes("new") }), later);
      expect(outcome.created).toBe(true);
      expect(outcome.stream).toMatchObject({ tail: 3, createdAt: later, ttlSeconds: null });
      expect(await contents("e")).toBe("new");
      // The old stream's producer state went with it: seq 0 is new again.
      const fresh = await suite.store.append(appendCommand("e", "?", { producer: producer("p", 0, 0) }), later);
      expect(fresh.kind).toBe("appended");
    });

    it("takes the fork off its source when an expired fork is replaced", async () => {
      await suite.store.create(createCommand("s", { data: bytes("abc") }), T0);
      await suite.store.create(createCommand("f", { fork: fork("s", 3), ttlSeconds: 1 }), T0);
      expect((await suite.store.getStream("s"))?.forkCount).toBe(1);
      await suite.store.create(createCommand("f"), T0 + 2 * SECOND);
      expect((await suite.store.getStream("s"))?.forkCount).toBe(0);
      // With no fork left, deleting the source removes it outright.
      expect(await suite.store.delete("s", T0 + 3 * SECOND)).toEqual({ soft: false });
      expect(await suite.store.getStream("s")).toBeUndefined();
    });

    it("keeps the path of an expired stream that forks still read through", async () => {
      await suite.store.create(createCommand("s", { ttlSeconds: 1, data: bytes("source bytes") }), T0);
      await suite.store.create(createCommand("f", { fork: fork("s", 6), expiresAt: T0 + 3600 * SECOND }), T0);
      await refused(suite.store.create(createCommand("s", { data: bytes("impostor") }), T0 + 2 * SECOND), 409, "STREAM_EXISTS");
      expect(await contents("s")).toBe("source bytes");
    });
  });
}
