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

  /** Present when several servers share this store (PostgreSQL); the runtime then coordinates through it. */
  readonly shared?: SharedSubscriptions;
}

/**
 * What a store shared by several servers adds: a cluster-wide lock per
 * subscription, a fresh read of one subscription (taken under that lock, so
 * a section always starts from what the other servers committed), and
 * notices of the subscriptions other servers changed.
 */
export interface SharedSubscriptions {
  /** Identifies this server among those sharing the store. */
  readonly serverId: string;
  /** Runs the section while this server holds the subscription's lock in the whole cluster. */
  lock<T>(id: string, section: () => Promise<T>): Promise<T>;
  /** The stored state of one subscription, or null when there is none. */
  loadOne(id: string): Promise<{ record: SubscriptionRecord; links: LinkRecord[] } | null>;
  /** Calls back with the ids another server changed, or "all" when notices may have been lost. */
  watch(listener: (ids: string[] | "all") => void): void;
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
