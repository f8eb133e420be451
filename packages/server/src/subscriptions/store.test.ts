import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemorySubscriptionStore } from "./memory-store.js";
import type { LinkRecord, SubscriptionRecord } from "./model.js";
import { generateSecrets } from "./signing.js";
import { SqliteSubscriptionStore } from "./sqlite-store.js";
import type { SubscriptionStore } from "./store.js";

const dir = mkdtempSync(join(tmpdir(), "rill-substore-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string): SubscriptionRecord => ({
  id,
  config: { type: "webhook", pattern: "a/*", streams: ["x"], webhookUrl: "https://h.example/", wakeStream: null, leaseTtlMs: 1000, description: null },
  configHash: "h",
  baseUrl: "http://127.0.0.1:1/v1/stream",
  createdAt: 1,
  status: "active",
  generation: 2,
  wake: { id: "wake_1", streams: [{ path: "a/1", tail: "0000000000000000_0000000000000004" }], holder: null, leaseExpiresAt: null, delivered: false, attempts: 1, nextAttemptAt: 99 },
});
const link = (subscriptionId: string, path: string, ackedOffset = "-1"): LinkRecord => ({ subscriptionId, path, explicit: false, glob: true, ackedOffset });

for (const [name, open] of [
  ["memory", () => new MemorySubscriptionStore()],
  ["sqlite", () => SqliteSubscriptionStore.open(join(dir, "db"))],
] as Array<[string, () => SubscriptionStore]>) {
  describe(`${name} subscription store`, () => {
    it("commits batches and loads them back, secrets included", async () => {
      const store = open();
      const secrets = generateSecrets();
      await store.saveSecrets(secrets);
      await store.commit({ put: [record("s1"), record("s2")], putLinks: [link("s1", "a/1"), link("s1", "a/2"), link("s2", "a/1")] });
      await store.commit({ putLinks: [link("s1", "a/1", "0000000000000000_0000000000000004")], removeLinks: [{ subscriptionId: "s1", path: "a/2" }] });
      await store.commit({ remove: ["s2"] });
      const { subscriptions, links } = await store.load();
      expect(subscriptions).toEqual([record("s1")]);
      expect(links).toEqual([link("s1", "a/1", "0000000000000000_0000000000000004")]);
      expect(await store.loadSecrets()).toEqual(secrets);
      await store.close();
    });
  });
}
