import type { LinkRecord, SubscriptionRecord } from "./model.js";
import type { SubscriptionSecrets } from "./signing.js";
import { cloneRecord, type SubscriptionBatch, type SubscriptionStore } from "./store.js";

/** Subscription state in process memory (`--memory`): kept across manager restarts in one process only. */
export class MemorySubscriptionStore implements SubscriptionStore {
  readonly kind = "memory";
  private readonly subscriptions = new Map<string, SubscriptionRecord>();
  private readonly links = new Map<string, Map<string, LinkRecord>>();
  private secrets: SubscriptionSecrets | undefined;

  async load(): Promise<{ subscriptions: SubscriptionRecord[]; links: LinkRecord[] }> {
    return {
      subscriptions: [...this.subscriptions.values()].map(cloneRecord),
      links: [...this.links.values()].flatMap((byPath) => [...byPath.values()].map((link) => ({ ...link }))),
    };
  }

  async commit(batch: SubscriptionBatch): Promise<void> {
    for (const id of batch.remove ?? []) {
      this.subscriptions.delete(id);
      this.links.delete(id);
    }
    for (const record of batch.put ?? []) this.subscriptions.set(record.id, cloneRecord(record));
    for (const { subscriptionId, path } of batch.removeLinks ?? []) this.links.get(subscriptionId)?.delete(path);
    for (const link of batch.putLinks ?? []) {
      let byPath = this.links.get(link.subscriptionId);
      if (!byPath) this.links.set(link.subscriptionId, (byPath = new Map()));
      byPath.set(link.path, { ...link });
    }
  }

  async loadSecrets(): Promise<SubscriptionSecrets | undefined> {
    return this.secrets && structuredClone(this.secrets);
  }

  async saveSecrets(secrets: SubscriptionSecrets): Promise<void> {
    this.secrets = structuredClone(secrets);
  }

  async close(): Promise<void> {}
}
