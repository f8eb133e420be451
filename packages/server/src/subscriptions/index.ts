export { SubscriptionManager, type SubscriptionManagerOptions } from "./manager.js";
export { subscriptionRoute, type ControlRouteOptions } from "./routes.js";
export type { SubscriptionStore, SubscriptionBatch } from "./store.js";
export { MemorySubscriptionStore } from "./memory-store.js";
export { SqliteSubscriptionStore } from "./sqlite-store.js";
export type { SubscriptionConfig, SubscriptionRecord, LinkRecord, WakeState, SubscriptionType } from "./model.js";
export type { Resolver } from "./url-guard.js";
