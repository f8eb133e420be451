import { afterEach, describe, expect, it } from "vitest";
import type { RunningServer, Store } from "@rill/server";
import { startOnStore, STORE_KINDS } from "./support/stores.js";

/**
 * Reads do not write: a GET or HEAD of an expired stream answers 404 and
 * leaves the stream for the sweeper, with no commit round (no fsync on
 * SQLite). Observed through the store itself: every method that writes is
 * wrapped by a spy that records its calls.
 */

const WRITING_METHODS = ["create", "append", "delete", "touch", "retain", "compact", "sweepExpired"] as const;

function spyOnWrites(store: Store): string[] {
  const calls: string[] = [];
  for (const method of WRITING_METHODS) {
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.push(`${method} ${String(args[0])}`);
      return original(...args);
    };
  }
  return calls;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: RunningServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

const put = (base: string, path: string, headers: Record<string, string>, body?: string) =>
  fetch(`${base}/${path}`, { method: "PUT", headers: { "content-type": "text/plain", ...headers }, body });

/**
 * Makes three streams that expire within about `windowMs` — an absolute
 * expiry, a sliding TTL, and a source whose fork outlives it (an absolute
 * expiry of its own, so reading the fork touches nothing) — and returns when
 * all three will have expired, or null when the source expired before its
 * fork could be made (a machine too slow for the window).
 */
async function createExpiring(base: string, prefix: string, windowMs: number): Promise<number | null> {
  const expiresAt = Date.now() + windowMs;
  const at = new Date(expiresAt).toISOString();
  expect((await put(base, `${prefix}short`, { "stream-expires-at": at }, "hello")).status).toBe(201);
  const ttlSeconds = Math.ceil(windowMs / 1000);
  expect((await put(base, `${prefix}sliding`, { "stream-ttl": String(ttlSeconds) }, "hello")).status).toBe(201);
  const slidingExpiry = Date.now() + ttlSeconds * 1000;
  expect((await put(base, `${prefix}source`, { "stream-expires-at": at }, "shared")).status).toBe(201);
  const forkExpiry = new Date(Date.now() + 3_600_000).toISOString();
  const fork = await put(base, `${prefix}fork`, { "stream-forked-from": `${base}/${prefix}source`, "stream-expires-at": forkExpiry });
  if (fork.status === 404 && Date.now() >= expiresAt) return null;
  expect(fork.status).toBe(201);
  return Math.max(expiresAt, slidingExpiry);
}

describe.each(STORE_KINDS)("reads of expired streams (%s)", (kind) => {
  it("answer 404 to every read mode and HEAD without a commit round, and leave the stream to the sweeper", async () => {
    // No sweeper and no maintenance: any write seen below would come from the reads.
    server = await startOnStore(kind, { sweepIntervalMs: 0, maintenanceIntervalMs: 0, longPollTimeoutMs: 500 });
    const base = server.streamsUrl;
    const expiring: string[] = [];
    let prefix = "";
    let expired: number | null = null;
    for (let windowMs = 500; expired === null && windowMs <= 32_000; windowMs *= 4) {
      prefix = `w${windowMs}-`;
      expiring.push(`${prefix}short`, `${prefix}sliding`, `${prefix}source`);
      expired = await createExpiring(base, prefix, windowMs);
    }
    expect(expired, "the streams could not be made before they expired").not.toBeNull();
    await sleep(Math.max(0, expired! - Date.now()) + 100);
    const names = [`${prefix}short`, `${prefix}sliding`, `${prefix}source`];

    const writes = spyOnWrites(server.store);
    for (const path of names) {
      for (const query of ["", "?offset=-1", "?offset=now", "?offset=-1&live=long-poll", "?offset=-1&live=sse"]) {
        const res = await fetch(`${base}/${path}${query}`);
        expect(res.status, `GET ${path}${query}`).toBe(404);
        expect((await res.json()).error.code).toBe("STREAM_NOT_FOUND");
      }
      expect((await fetch(`${base}/${path}`, { method: "HEAD" })).status, `HEAD ${path}`).toBe(404);
    }
    // The fork still reads its expired source's bytes.
    const fork = await fetch(`${base}/${prefix}fork?offset=-1`);
    expect(fork.status).toBe(200);
    expect(await fork.text()).toBe("shared");
    expect(writes).toEqual([]);
    // Still stored, for the sweeper to remove.
    for (const path of names) expect(await server.store.getStream(path)).toBeDefined();

    // The sweeper removes them; the source is kept for its fork, and still reads 404 (expired), not 410.
    expect((await server.store.sweepExpired(Date.now())).sort()).toEqual(expiring.sort());
    expect(await server.store.getStream(`${prefix}short`)).toBeUndefined();
    expect(await server.store.getStream(`${prefix}source`)).toMatchObject({ softDeleted: true, forkCount: 1 });
    expect((await fetch(`${base}/${prefix}source?offset=-1`)).status).toBe(404);
    expect((await fetch(`${base}/${prefix}source`, { method: "HEAD" })).status).toBe(404);
    expect(await (await fetch(`${base}/${prefix}fork?offset=-1`)).text()).toBe("shared");
  });

  it("answer 410 for a stream deleted while forks still read it", async () => {
    server = await startOnStore(kind, { sweepIntervalMs: 0, maintenanceIntervalMs: 0 });
    const base = server.streamsUrl;
    expect((await put(base, "kept", {}, "shared")).status).toBe(201);
    expect((await put(base, "branch", { "stream-forked-from": `${base}/kept` })).status).toBe(201);
    expect((await fetch(`${base}/kept`, { method: "DELETE" })).status).toBe(204);
    const writes = spyOnWrites(server.store);
    const res = await fetch(`${base}/kept?offset=-1`);
    expect(res.status).toBe(410);
    expect((await res.json()).error.code).toBe("STREAM_GONE");
    expect((await fetch(`${base}/kept`, { method: "HEAD" })).status).toBe(410);
    expect(await (await fetch(`${base}/branch?offset=-1`)).text()).toBe("shared");
    expect(writes).toEqual([]);
  });
});
