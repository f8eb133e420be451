export { startServer, DEFAULTS, type ServerOptions, type RunningServer } from "./server.js";
export type { ExtraRoute, HttpContext } from "./http/context.js";
export { authorize, authorizeAny } from "./http/authorize.js";
export { AccessControl, type AccessOptions, type Need, type Principal, type Decision } from "./auth/access.js";
export { parseScope, ScopeError, type Grants, type StreamOperation } from "./auth/scopes.js";
export { createStaticToken, hashToken, parseTokensFile } from "./auth/static-tokens.js";
export { DEFAULT_LIMITS, type ServerLimits } from "./http/limits.js";
export { createLogger, LOG_LEVELS, type Logger, type LoggerOptions, type LogLevel } from "./logging/logger.js";
export type { RequestGuard } from "./ops/metrics-route.js";
export { Engine, type EngineOptions, type ReadResult, type StreamChange, type StreamObserver } from "./engine/engine.js";
export { ProtocolError, type ErrorCode } from "./domain/errors.js";
export type { StreamState, ProducerState, ProducerRef } from "./domain/model.js";
export type { Store, RemoteCommit } from "./storage/store.js";
export type { ResolvedCreateCommand } from "./domain/commands.js";
export { MemoryStore } from "./storage/memory-store.js";
export type { PostgresStoreOptions } from "./storage/postgres-store.js";
export {
  SubscriptionManager,
  MemorySubscriptionStore,
  type SubscriptionManagerOptions,
  type SubscriptionStore,
  type SubscriptionBatch,
  type SubscriptionConfig,
  type SubscriptionRecord,
  type LinkRecord,
  type WakeState,
  type SubscriptionType,
  type SubscriptionSecrets,
  type Resolver,
} from "./subscriptions/index.js";
export { parseRetentionRule, type RetentionRule } from "./domain/retention-rules.js";
export type { RetentionPolicy, CompactionPolicy } from "./domain/model.js";
export type { TlsMaterial } from "./listener.js";
export { createSelfSignedCertificate, localCertificate, type LocalCertificate } from "./tls/self-signed.js";
