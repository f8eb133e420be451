import { createStateSchema, type ChangeEvent } from "@durable-streams/state";
import { createStreamDB } from "@durable-streams/state/db";
import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { sseTextUntil } from "./support/sse-text.js";

// The official @durable-streams/state package reading a key-compacted Rill
// stream over HTTP: the state it builds is the state of the full history,
// from fewer messages and fewer stored bytes.
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface User {
  id: string;
  name: string;
  visits: number;
}

/** A Standard Schema validator that accepts any user object. */
const userSchema = {
  "~standard": {
    version: 1 as const,
    vendor: "rill-test",
    validate: (value: unknown) => ({ value: value as User }),
  },
};

const change = (key: string, operation: "insert" | "update" | "delete", value?: User) => ({
  type: "user",
  key,
  ...(value ? { value } : {}),
  headers: { operation },
});

describe("@durable-streams/state on a compacted stream", () => {
  it("materializes the same users from the compacted stream", async () => {
    server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 0, compactionLagMs: 0 });
    const url = `${server.streamsUrl}/state/users`;
    const created = await fetch(url, { method: "PUT", headers: { "content-type": "application/json", "rill-compaction": "key" } });
    expect(created.status).toBe(201);

    const history = [];
    for (let visit = 1; visit <= 30; visit++) {
      history.push(change(`u${visit % 3}`, visit <= 3 ? "insert" : "update", { id: `u${visit % 3}`, name: `user ${visit % 3}`, visits: visit }));
    }
    history.push(change("u9", "insert", { id: "u9", name: "gone soon", visits: 0 }));
    history.push(change("u9", "delete"));
    for (let i = 0; i < history.length; i += 4) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(history.slice(i, i + 4)),
      });
      expect(res.status).toBe(204);
    }
    await server.engine.maintainer.runAll();
    const head = await fetch(url, { method: "HEAD" });
    const appended = Number(head.headers.get("rill-bytes-appended"));
    const stored = Number(head.headers.get("rill-bytes-stored"));
    expect(stored).toBeLessThan(appended / 4);

    const seen: ChangeEvent[] = [];
    const db = createStreamDB({
      streamOptions: { url, contentType: "application/json" },
      live: false,
      state: createStateSchema({ users: { schema: userSchema, type: "user", primaryKey: "id" } }),
      onEvent: (event) => seen.push(event),
    });
    try {
      await db.preload();
      const users = db.collections.users;
      expect(users.get("u0")).toMatchObject({ id: "u0", name: "user 0", visits: 30 });
      expect(users.get("u1")).toMatchObject({ id: "u1", name: "user 1", visits: 28 });
      expect(users.get("u2")).toMatchObject({ id: "u2", name: "user 2", visits: 29 });
      expect(users.get("u9")).toBeUndefined();
      expect(users.size).toBe(3);
      // The three latest updates and the delete (a tombstone is kept for a day).
      expect(seen.map((e) => `${e.key}:${e.headers.operation}`)).toEqual(["u1:update", "u2:update", "u0:update", "u9:delete"]);
    } finally {
      db.close();
    }
  });

  it("counts a fork's sub-offset in kept messages, across the positions compaction emptied", async () => {
    server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 0, compactionLagMs: 0 });
    const url = `${server.streamsUrl}/state/forked`;
    await fetch(url, { method: "PUT", headers: { "content-type": "application/json", "rill-compaction": "key" } });
    const events = [
      change("a", "insert", { id: "a", name: "first", visits: 1 }),
      change("b", "insert", { id: "b", name: "kept", visits: 1 }),
      change("a", "update", { id: "a", name: "latest", visits: 2 }),
    ];
    await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) });
    await server.engine.maintainer.runAll();
    expect(await (await fetch(`${url}?offset=-1`)).json()).toEqual(events.slice(1));
    // One message past the start is the kept "b", whose end is where it always was.
    const forked = await fetch(`${server.streamsUrl}/state/fork`, {
      method: "PUT",
      headers: {
        "stream-forked-from": "/v1/stream/state/forked",
        "stream-fork-offset": "0000000000000000_0000000000000000",
        "stream-fork-sub-offset": "1",
      },
    });
    expect(forked.status).toBe(201);
    const end = JSON.stringify(events[0]).length + 1 + JSON.stringify(events[1]).length + 1;
    expect(forked.headers.get("stream-next-offset")).toBe(`0000000000000000_${String(end).padStart(16, "0")}`);
    expect(await (await fetch(`${server.streamsUrl}/state/fork?offset=-1`)).json()).toEqual([events[1]]);
  });

  it("reads a range that ends in emptied positions as valid JSON, up to the tail", async () => {
    server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 0, compactionLagMs: 0 });
    const url = `${server.streamsUrl}/state/emptied`;
    const headers = { "content-type": "application/json", "rill-compaction": "key", "rill-compaction-tombstone-age": "0" };
    await fetch(url, { method: "PUT", headers });
    const kept = change("k", "insert", { id: "k", name: "kept", visits: 1 });
    await fetch(url, { method: "POST", headers, body: JSON.stringify([kept]) });
    await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify([change("x", "insert", { id: "x", name: "gone", visits: 1 }), change("x", "delete")]),
    });
    const tail = (await fetch(url, { method: "HEAD" })).headers.get("stream-next-offset");
    await new Promise((resolve) => setTimeout(resolve, 5)); // the delete must be older than its age of 0
    await server.engine.maintainer.runAll();
    for (const query of ["offset=-1", "offset=-1&live=long-poll"]) {
      const res = await fetch(`${url}?${query}`);
      expect(res.status, query).toBe(200);
      expect(await res.json(), query).toEqual([kept]);
      expect(res.headers.get("stream-next-offset"), query).toBe(tail);
    }
    // SSE from the start: the kept message, then a control event at the tail.
    const seen = await sseTextUntil(`${url}?offset=-1&live=sse`, tail!);
    expect(seen).toContain(`"streamNextOffset":"${tail}"`);
    expect(seen).toContain('"name":"kept"');
    expect(seen).not.toContain('"name":"gone"');
    // From the first emptied position: nothing, and the tail.
    const after = `0000000000000000_${String(JSON.stringify(kept).length + 1).padStart(16, "0")}`;
    const rest = await fetch(`${url}?offset=${after}`);
    expect(await rest.json()).toEqual([]);
    expect(rest.headers.get("stream-next-offset")).toBe(tail);
    expect(rest.headers.get("stream-up-to-date")).toBe("true");
  });
});

