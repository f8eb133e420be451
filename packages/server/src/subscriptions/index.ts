export { SubscriptionManager, type SubscriptionManagerOptions } from "./manager.js";
export { subscriptionRoute, type ControlRouteOptions } from "./routes.js";
export type { SubscriptionStore, SubscriptionBatch } from "./store.js";
export { MemorySubscriptionStore } from "./memory-store.js";
export type { SubscriptionConfig, SubscriptionRecord, LinkRecord, WakeState, SubscriptionType } from "./model.js";
export type { SubscriptionSecrets } from "./signing.js";
export type { Resolver } from "./url-guard.js";
