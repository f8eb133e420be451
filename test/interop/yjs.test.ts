import { YjsProvider } from "@durable-streams/y-durable-streams";
import { YjsServer } from "@durable-streams/y-durable-streams/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Awareness } from "y-protocols/awareness";
import * as Y from "yjs";
import { eachTarget, eventually, startTarget, type Target, type TestServer } from "./targets.js";

// @durable-streams/y-durable-streams unmodified: its YjsServer (which
// compacts a document's updates into snapshots, and reads the updates
// "after" a snapshot by adding 1 to the snapshot's offset) pointed at the
// server, and several providers syncing text and awareness through it.

const SERVICE = "interop";

eachTarget("y-durable-streams against the %s server", (target: Target) => {
  let streams: TestServer;
  let yjs: YjsServer;
  const providers: YjsProvider[] = [];

  beforeAll(async () => {
    vi.spyOn(console, "log").mockImplementation(() => undefined); // the compactor reports each compaction
    streams = await startTarget(target, 500);
    yjs = new YjsServer({ port: 0, host: "127.0.0.1", dsServerUrl: streams.url, compactionThreshold: 2_000 });
    await yjs.start();
  });
  afterAll(async () => {
    for (const provider of providers) provider.destroy();
    await yjs?.stop();
    await streams?.close();
    vi.restoreAllMocks();
  });

  function join(docId: string, liveMode: "sse" | "long-poll") {
    const doc = new Y.Doc();
    const awareness = new Awareness(doc);
    const provider = new YjsProvider({ doc, awareness, baseUrl: `${yjs.url}/v1/yjs/${SERVICE}`, docId, liveMode });
    providers.push(provider);
    const errors: Error[] = [];
    provider.on("error", (error) => errors.push(error));
    return { doc, awareness, provider, errors, text: () => doc.getText("body").toString() };
  }

  describe.each(["sse", "long-poll"] as const)("%s", (liveMode) => {
    it("syncs text and awareness across providers, through three compactions, late joiners starting from a snapshot", async () => {
      const docId = `notes-${liveMode}-${process.pid}`;
      const alice = join(docId, liveMode);
      const bob = join(docId, liveMode);
      await eventually(() => alice.provider.synced && bob.provider.synced, 10_000, "first providers synced");

      const snapshots = new Set<string>();
      const snapshotNow = () => yjs.getDocumentState(SERVICE, docId)?.snapshotOffset ?? null;
      let expected = "";
      for (let round = 0; round < 3; round++) {
        const before = snapshotNow();
        // Enough edits to pass the compaction threshold, from both writers.
        for (let i = 0; i < 30; i++) {
          const writer = i % 2 === 0 ? alice : bob;
          const line = `${liveMode} round ${round} line ${i} ${"·".repeat(60)}\n`;
          writer.doc.getText("body").insert(writer.doc.getText("body").length, line);
          await eventually(() => alice.text() === bob.text(), 10_000, `round ${round} line ${i} on both`);
        }
        expected = alice.text();
        await eventually(() => {
          const now = snapshotNow();
          return now !== null && now !== before && !yjs.getDocumentState(SERVICE, docId)!.compacting;
        }, 10_000, `compaction ${round + 1}`);
        snapshots.add(snapshotNow()!);

        // A newcomer loads the snapshot, then the updates after it.
        const late = join(docId, liveMode);
        await eventually(() => late.provider.synced && late.text() === expected, 10_000, `late joiner after compaction ${round + 1}`);
        late.doc.getText("body").insert(0, `late ${round}\n`);
        await eventually(() => alice.text() === late.text() && bob.text() === late.text(), 10_000, "the late joiner's edit everywhere");
        expect(late.errors).toEqual([]);
      }
      expect(snapshots.size).toBeGreaterThanOrEqual(3);

      alice.awareness.setLocalStateField("user", { name: "alice", cursor: 7 });
      await eventually(
        () => [...bob.awareness.getStates().values()].some((state) => state.user?.name === "alice"),
        10_000,
        "alice's awareness at bob",
      );
      expect(alice.errors).toEqual([]);
      expect(bob.errors).toEqual([]);
    });
  });
});
