import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/**
 * The log sync that makes a round durable is held back here until the test
 * lets it go (or fails it), to see what reads show in between.
 */
const held: Array<(error?: Error) => void> = [];
const syncsOnTheLoop = { count: 0 };
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return {
    ...real,
    fdatasync: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      held.push((error) => (error ? callback(error) : real.fdatasync(fd, callback)));
    },
    fdatasyncSync: (fd: number) => {
      syncsOnTheLoop.count++;
      real.fdatasyncSync(fd);
    },
  };
});

const { SqliteStore } = await import("./sqlite-store.js");
const { appendCommand, contents, createCommand, T0 } = await import("./test-support.js");

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(condition()).toBe(true);
}

describe("SqliteStore: a round is durable before anyone sees it", () => {
  let dataDir: string;
  let store: InstanceType<typeof SqliteStore>;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "rill-walsync-"));
    store = new SqliteStore({ dataDir });
    held.length = 0;
  });
  afterEach(async () => {
    while (held.length > 0) held.shift()!();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function committed<T>(work: Promise<T>): Promise<T> {
    await until(() => held.length > 0);
    held.shift()!();
    return work;
  }

  it("shows neither a new stream nor new bytes until the log sync that follows their COMMIT completes", async () => {
    await committed(store.create(createCommand("/a"), T0));
    await committed(store.append(appendCommand("/a", "first "), T0));

    let settled = false;
    const append = store.append(appendCommand("/a", "second"), T0).then((outcome) => ((settled = true), outcome));
    const create = store.create(createCommand("/b"), T0);
    await until(() => held.length > 0); // committed, not yet synced
    expect(settled).toBe(false);
    expect((await store.getStream("/a"))?.tail).toBe(6);
    expect(await contents(store, "/a")).toBe("first ");
    expect(await store.getStream("/b")).toBeUndefined();
    expect((await store.list("/", null, 10)).map((s) => [s.path, s.tail])).toEqual([["/a", 6]]);

    held.shift()!();
    expect((await append).kind).toBe("appended");
    expect((await create).created).toBe(true);
    expect(await contents(store, "/a")).toBe("first second");
    expect(await store.getStream("/b")).toBeDefined();
  });

  it("commits the next round while one is being synced, two at most, and settles them in order once both are durable", async () => {
    await committed(store.create(createCommand("/c"), T0));
    const order: string[] = [];
    const track = (name: string, work: Promise<unknown>) => work.then(() => order.push(name));
    const first = track("1", store.append(appendCommand("/c", "1"), T0));
    await until(() => held.length === 1);
    const second = [track("2", store.append(appendCommand("/c", "2"), T0)), track("3", store.append(appendCommand("/c", "3"), T0))];
    await until(() => held.length === 2); // committed while the first round's sync runs
    const third = track("4", store.append(appendCommand("/c", "4"), T0));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(held.length).toBe(2); // no third round while two await their sync
    expect(await contents(store, "/c")).toBe("");

    held.splice(1, 1)[0]!(); // the second round's sync completes first: it still waits for the first's
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]);
    expect(await contents(store, "/c")).toBe("");

    held.shift()!();
    await Promise.all([first, ...second]);
    expect(order).toEqual(["1", "2", "3"]);
    expect(await contents(store, "/c")).toBe("123");
    await committed(third);
    expect(await contents(store, "/c")).toBe("1234");
  });

  it("fails a round committed after one whose sync failed, even when its own sync succeeds", async () => {
    await committed(store.create(createCommand("/f"), T0));
    const first = store.append(appendCommand("/f", "1"), T0);
    await until(() => held.length === 1);
    const second = store.append(appendCommand("/f", "2"), T0);
    await until(() => held.length === 2);
    held.pop()!();
    held.shift()!(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await expect(first).rejects.toThrow(/EIO/);
    await expect(second).rejects.toThrow(/EIO/);
  });

  it("settles a round that removed data after the rounds still being synced, though it is durable at once", async () => {
    await committed(store.create(createCommand("/x"), T0));
    await committed(store.create(createCommand("/y"), T0));
    const order: string[] = [];
    const append = store.append(appendCommand("/x", "1"), T0).then(() => order.push("append"));
    await until(() => held.length === 1);
    const syncs = syncsOnTheLoop.count;
    const removal = store.delete("/y", T0).then(() => order.push("delete"));
    // The delete's round syncs on the loop, which makes the append's round durable too: reads show both.
    await until(() => syncsOnTheLoop.count > syncs);
    expect(await store.getStream("/y")).toBeUndefined();
    expect((await store.getStream("/x"))?.tail).toBe(1);
    expect(order).toEqual([]);
    held.shift()!();
    await Promise.all([append, removal]);
    expect(order).toEqual(["append", "delete"]);
  });

  it("syncs rounds that remove data on the event loop, since removed rows cannot be hidden from reads", async () => {
    await committed(store.create(createCommand("/d"), T0));
    const before = syncsOnTheLoop.count;
    await store.delete("/d", T0);
    expect(syncsOnTheLoop.count).toBe(before + 1);
    expect(held.length).toBe(0);
    expect(await store.getStream("/d")).toBeUndefined();
  });

  it("fails the round and refuses everything after a failed sync, and says so to /readyz", async () => {
    await committed(store.create(createCommand("/e"), T0));
    const append = store.append(appendCommand("/e", "x"), T0);
    await until(() => held.length > 0);
    held.shift()!(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await expect(append).rejects.toThrow(/EIO/);
    await expect(store.checkReady()).rejects.toThrow(/EIO/);
    await expect(store.append(appendCommand("/e", "y"), T0)).rejects.toThrow(/EIO/);
  });
});
