import type { LinkRecord, SubscriptionRecord } from "./model.js";
import type { SubscriptionSecrets } from "./signing.js";

/**
 * Durable subscription state: subscriptions (configuration plus the
 * outstanding wake, lease and retry schedule), their stream links with the
 * acknowledged offsets, and the server's signing secrets. The manager keeps a
 * working copy in memory and writes every change through here before it
 * answers, so a restart loses nothing that was acknowledged.
 */
export interface SubscriptionStore {
  readonly kind: string;

  /** Everything stored, for start-up. */
  load(): Promise<{ subscriptions: SubscriptionRecord[]; links: LinkRecord[] }>;

  /** Applies a batch of changes atomically. */
  commit(batch: SubscriptionBatch): Promise<void>;

  /** The persisted secrets, or undefined before the first start. */
  loadSecrets(): Promise<SubscriptionSecrets | undefined>;
  saveSecrets(secrets: SubscriptionSecrets): Promise<void>;

  close(): Promise<void>;
}

export interface SubscriptionBatch {
  /** Inserted or replaced subscriptions. */
  put?: SubscriptionRecord[];
  /** Removed subscriptions, with all their links. */
  remove?: string[];
  /** Inserted or replaced links. */
  putLinks?: LinkRecord[];
  removeLinks?: Array<{ subscriptionId: string; path: string }>;
}

/** A deep copy, so a store never shares objects with the manager's working copy. */
export function cloneRecord(record: SubscriptionRecord): SubscriptionRecord {
  return structuredClone(record);
}
