import { DurableStream, stream as officialStream } from "@durable-streams/client";
import { createStateSchema, isChangeEvent, MaterializedState, type ChangeEvent } from "@durable-streams/state";
import { createStreamDB } from "@durable-streams/state/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { eachTarget, eventually, startTarget, type Target, type TestServer } from "./targets.js";

// @durable-streams/state unmodified: its schema helpers write change events,
// MaterializedState folds a catch-up read, and createStreamDB follows the
// stream live (SSE and long-poll) with optimistic actions confirmed by txid.

const user = z.object({ id: z.string(), name: z.string(), visits: z.number() });
const note = z.object({ id: z.string(), text: z.string() });
type User = z.infer<typeof user>;

const schema = createStateSchema({
  users: { schema: user, type: "user", primaryKey: "id" },
  notes: { schema: note, type: "note", primaryKey: "id" },
});

eachTarget("@durable-streams/state against the %s server", (target: Target) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTarget(target, 500);
  });
  afterAll(() => server?.close());

  async function stateStream(label: string) {
    const url = server.streamUrl(label);
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    return { url, handle, write: (event: ChangeEvent) => handle.append(JSON.stringify(event)) };
  }

  it("schema helpers write change events that MaterializedState folds from a catch-up read", async () => {
    const { url, write } = await stateStream("state-materialize");
    await write(schema.users.insert({ value: { id: "u1", name: "Ada", visits: 1 } }));
    await write(schema.users.insert({ value: { id: "u2", name: "Bob", visits: 1 } }));
    await write(schema.notes.insert({ value: { id: "n1", text: "hello, world" } }));
    await write(schema.users.update({ value: { id: "u1", name: "Ada", visits: 2 }, oldValue: { id: "u1", name: "Ada", visits: 1 } }));
    await write(schema.users.delete({ key: "u2", oldValue: { id: "u2", name: "Bob", visits: 1 } }));

    const events = await (await officialStream<ChangeEvent>({ url, live: false })).json();
    expect(events).toHaveLength(5);
    expect(events.every(isChangeEvent)).toBe(true);
    const state = new MaterializedState();
    state.applyBatch(events);
    expect(state.get<User>("user", "u1")).toEqual({ id: "u1", name: "Ada", visits: 2 });
    expect(state.get("user", "u2")).toBeUndefined();
    expect([...state.getType("note").values()]).toEqual([{ id: "n1", text: "hello, world" }]);
    expect(state.types.sort()).toEqual(["note", "user"]);
  });

  describe.each(["sse", "long-poll"] as const)("createStreamDB live over %s", (live) => {
    it("catches up, follows appends, and confirms optimistic actions by txid", async () => {
      const { url, handle, write } = await stateStream(`state-db-${live}`);
      await write(schema.users.insert({ value: { id: "u1", name: "Ada", visits: 1 } }));

      const db = createStreamDB({
        streamOptions: { url, contentType: "application/json" },
        live,
        state: schema,
        actions: ({ db, stream }) => ({
          addNote: {
            onMutate: (value: { id: string; text: string }) => {
              db.collections.notes.insert(value);
            },
            mutationFn: async (value: { id: string; text: string }) => {
              const txid = crypto.randomUUID();
              await stream.append(JSON.stringify(schema.notes.insert({ value, headers: { txid } })));
              await db.utils.awaitTxId(txid, 10_000);
            },
          },
        }),
      });
      try {
        await db.preload();
        expect(db.collections.users.get("u1")).toMatchObject({ id: "u1", name: "Ada", visits: 1 });

        // Another writer's changes arrive live.
        await write(schema.users.update({ value: { id: "u1", name: "Ada", visits: 5 } }));
        await write(schema.users.insert({ value: { id: "u2", name: "Bob", visits: 1 } }));
        await eventually(() => db.collections.users.get("u1")?.visits === 5 && db.collections.users.has("u2"), 10_000, "live changes");

        // An optimistic action shows at once and is confirmed when its event comes back.
        const transaction = db.actions.addNote({ id: "n1", text: "optimistic" });
        expect(db.collections.notes.get("n1")).toMatchObject({ id: "n1", text: "optimistic" });
        await transaction.isPersisted.promise;
        expect(db.collections.notes.get("n1")).toMatchObject({ id: "n1", text: "optimistic" });

        const stored = await (await officialStream<ChangeEvent>({ url, live: false })).json();
        expect(stored.map((event) => `${event.type}:${event.key}:${event.headers.operation}`)).toEqual([
          "user:u1:insert",
          "user:u1:update",
          "user:u2:insert",
          "note:n1:insert",
        ]);
        expect(handle.url).toBe(url);
      } finally {
        db.close();
      }
    });
  });
});
