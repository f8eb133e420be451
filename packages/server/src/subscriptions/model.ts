/**
 * The durable model of subscriptions. A subscription watches a set of
 * streams (matched by a glob pattern, named explicitly, or both) and keeps a
 * per-stream cursor, the acknowledged offset. A stream has pending work while
 * its tail is past that cursor. Pending work raises a *wake*: a webhook POST
 * or an event on a pull-wake stream. One wake at a time is outstanding per
 * subscription; each has a fresh generation number and wake id, and tokens
 * name both, so a worker holding an older wake is fenced off.
 */

export type SubscriptionType = "webhook" | "pull-wake";

/** The normalized configuration given by the client; its hash decides idempotent re-creation. */
export interface SubscriptionConfig {
  type: SubscriptionType;
  /** Glob over stream paths: `*` is one segment, `**` any number of segments. */
  pattern: string | null;
  /** Explicitly named streams, sorted and unique. */
  streams: string[];
  webhookUrl: string | null;
  /** Pull-wake: the application-created stream that wake events are appended to. */
  wakeStream: string | null;
  leaseTtlMs: number;
  description: string | null;
}

/** A stream's position as recorded in a wake (the tail at the moment of the wake). */
export interface WakeStream {
  path: string;
  tail: string;
}

/** The outstanding wake, if any. */
export interface WakeState {
  id: string;
  /** Streams with pending work when the wake was raised (or claimed), with their tails then. */
  streams: WakeStream[];
  /** Pull-wake: the worker holding the claim. */
  holder: string | null;
  /** While a worker (or webhook consumer) holds the wake: when its lease runs out (ms). */
  leaseExpiresAt: number | null;
  /** Webhook: whether the consumer accepted the POST (a 2xx or any callback). */
  delivered: boolean;
  /** Webhook: failed delivery attempts so far. */
  attempts: number;
  /** Webhook: when the next delivery attempt is due (ms); null once delivered. */
  nextAttemptAt: number | null;
  /**
   * Webhook, with servers sharing the store: the server whose POST of this
   * wake is in flight, and until when the others leave it alone. Absent in
   * records of a single server.
   */
  deliveringBy?: string | null;
  deliveringUntil?: number | null;
}

export type SubscriptionStatus = "active" | "failed";

export interface SubscriptionRecord {
  id: string;
  config: SubscriptionConfig;
  configHash: string;
  /** URL of the stream namespace the subscription was created through, e.g. http://host/v1/stream. */
  baseUrl: string;
  createdAt: number;
  /** "failed" while webhook deliveries are failing and being retried. */
  status: SubscriptionStatus;
  /** Number of the latest wake; only ever grows. */
  generation: number;
  wake: WakeState | null;
}

/** Membership of one stream in one subscription, with its cursor. */
export interface LinkRecord {
  subscriptionId: string;
  path: string;
  explicit: boolean;
  glob: boolean;
  /** Offset up to which the consumer has acknowledged; "-1" before anything. */
  ackedOffset: string;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;
export const MIN_LEASE_TTL_MS = 1_000;
export const MAX_LEASE_TTL_MS = 600_000;
