import type { Engine } from "../engine/engine.js";
import { log } from "../logging/logger.js";
import {
  addStreams,
  createOrConfirm,
  deleteSubscription,
  describe,
  onStreamChange,
  reconcile,
  removeStream,
  requireEntry,
} from "./admin.js";
import { acknowledge, claim, release, type Claim, type WakeRequest } from "./consumer.js";
import { parseGlob } from "../domain/glob.js";
import type { LinkRecord, SubscriptionConfig } from "./model.js";
import { SubscriptionRuntime } from "./runtime.js";
import { generateSecrets, Signer, type PublicJwk } from "./signing.js";
import type { SubscriptionStore } from "./store.js";
import { systemResolver, type Resolver } from "./url-guard.js";

export interface SubscriptionManagerOptions {
  engine: Engine;
  store: SubscriptionStore;
  /** Accept plain-http webhooks to localhost / 127.0.0.0/8 / [::1] (development). Default true. */
  allowLocalhostWebhooks?: boolean;
  /** How long one webhook POST may take before it counts as failed (ms). Default 10 s. */
  webhookTimeoutMs?: number;
  /** Host name resolution for webhook deliveries (tests substitute their own). */
  resolver?: Resolver;
  now?: () => number;
  /**
   * Where warnings go (default: the server log, as events with the given
   * fields, `subscription_warning` when there are none).
   */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * With a store shared by several servers: how often every subscription is
   * re-checked for pending work (ms, default 30 s). This raises the wake of an
   * append whose server died between committing it and raising the wake.
   */
  reconcileIntervalMs?: number;
}

/**
 * Subscriptions over an engine's streams: the API the `__ds` routes call.
 * Open it after the engine; close it before the engine (its wake events are
 * appends).
 */
export class SubscriptionManager {
  private readonly stopObserving: () => void;
  private reconciler: NodeJS.Timeout | null = null;
  private closed: Promise<void> | null = null;

  private constructor(private readonly rt: SubscriptionRuntime) {
    this.stopObserving = rt.options.engine.observe((change) => onStreamChange(rt, change));
  }

  /** Servers sharing the store: follow the others' changes, and sweep for wakes a dead server left unraised. */
  private coordinate(intervalMs: number): void {
    const shared = this.rt.options.store.shared;
    if (!shared) return;
    shared.watch((ids) => void this.rt.refresh(ids));
    this.reconciler = setInterval(() => {
      for (const entry of [...this.rt.entries.values()]) {
        void reconcile(this.rt, entry).catch((error: unknown) =>
          this.rt.options.warn(`subscription ${entry.record.id}: reconciling failed: ${String(error)}`),
        );
      }
    }, intervalMs);
    this.reconciler.unref();
  }

  static async open(options: SubscriptionManagerOptions): Promise<SubscriptionManager> {
    const { store } = options;
    let secrets = await store.loadSecrets();
    if (secrets === undefined) {
      await store.saveSecrets(generateSecrets());
      // Read back: with a shared store, a server that started at the same moment may have saved its own first.
      secrets = await store.loadSecrets();
      if (secrets === undefined) throw new Error("the subscription store did not keep the signing secrets");
    }
    const rt = new SubscriptionRuntime({
      engine: options.engine,
      store,
      signer: new Signer(secrets),
      policy: { allowLocalhostHttp: options.allowLocalhostWebhooks ?? true },
      resolver: options.resolver ?? systemResolver,
      webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
      now: options.now ?? Date.now,
      warn: options.warn ?? ((message, fields) => log().warn({ event: "subscription_warning", ...fields }, message)),
    });
    const { subscriptions, links } = await store.load();
    const linksOf = new Map<string, Map<string, LinkRecord>>();
    for (const link of links) {
      let byPath = linksOf.get(link.subscriptionId);
      if (!byPath) linksOf.set(link.subscriptionId, (byPath = new Map()));
      byPath.set(link.path, link);
    }
    for (const record of subscriptions) {
      rt.register({
        record,
        links: linksOf.get(record.id) ?? new Map(),
        matcher: record.config.pattern === null ? null : parseGlob(record.config.pattern),
        timer: null,
        delivering: null,
      });
    }
    const manager = new SubscriptionManager(rt);
    manager.coordinate(options.reconcileIntervalMs ?? 30_000);
    for (const entry of [...rt.entries.values()]) await reconcile(rt, entry);
    return manager;
  }

  get closing(): boolean {
    return this.rt.closing;
  }

  jwks(): { keys: PublicJwk[] } {
    return this.rt.options.signer.jwks();
  }

  /** Creates the subscription, or confirms an identical one (`created: false`). */
  async put(id: string, config: SubscriptionConfig, baseUrl: string): Promise<{ created: boolean; body: Record<string, unknown> }> {
    const { entry, created } = await createOrConfirm(this.rt, id, config, baseUrl);
    return { created, body: describe(this.rt, entry, baseUrl) };
  }

  /** With a shared store, from what is committed (another server may have just changed it). */
  async get(id: string, baseUrl: string): Promise<Record<string, unknown>> {
    await this.rt.refresh([id]);
    return describe(this.rt, requireEntry(this.rt, id), baseUrl);
  }

  delete(id: string): Promise<void> {
    return deleteSubscription(this.rt, id);
  }

  addStreams(id: string, paths: string[]): Promise<void> {
    return addStreams(this.rt, id, paths);
  }

  removeStream(id: string, path: string): Promise<void> {
    return removeStream(this.rt, id, path);
  }

  callback(id: string, token: string | null, request: WakeRequest): Promise<{ ok: true; next_wake: boolean }> {
    return acknowledge(this.rt, id, "webhook", token, request);
  }

  claim(id: string, worker: string): Promise<Claim> {
    return claim(this.rt, id, worker);
  }

  ack(id: string, token: string | null, request: WakeRequest): Promise<{ ok: true; next_wake: boolean }> {
    return acknowledge(this.rt, id, "pull-wake", token, request);
  }

  release(id: string, token: string | null, request: WakeRequest): Promise<void> {
    return release(this.rt, id, token, request);
  }

  /**
   * Stops timers and deliveries (a delivery cut short is retried after the
   * next start, as its retry was committed before it began), waits for
   * operations in progress, and closes the store.
   */
  close(): Promise<void> {
    return (this.closed ??= (async () => {
      this.stopObserving();
      if (this.reconciler) clearInterval(this.reconciler);
      this.rt.shutdown.abort();
      for (const entry of this.rt.entries.values()) this.rt.disarm(entry);
      await this.rt.drain();
      await this.rt.options.store.close();
    })());
  }

  /** Webhook wakes waiting to be delivered again after a failed attempt (metrics). */
  retryQueueDepth(): number {
    let waiting = 0;
    for (const { record } of this.rt.entries.values()) {
      if (record.wake && !record.wake.delivered && record.wake.attempts > 0) waiting++;
    }
    return waiting;
  }
}
