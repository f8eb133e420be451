import { formatOffset, frameJsonMessages, isJsonContentType } from "@rill/protocol";
import type { Engine } from "../engine/engine.js";
import { ProtocolError } from "../domain/errors.js";
import { isExpired } from "../domain/model.js";
import { leaseExpiries, wakesRaised } from "../metrics/subscription-metrics.js";
import { hasPending } from "./cursors.js";
import { deliverWake } from "./webhook-worker.js";
import { parseGlob, type GlobSegment } from "../domain/glob.js";
import { KeyedMutex } from "./mutex.js";
import type { LinkRecord, SubscriptionRecord, WakeState, WakeStream } from "./model.js";
import { newWakeId, type Signer } from "./signing.js";
import type { SubscriptionStore } from "./store.js";
import type { Resolver, WebhookUrlPolicy } from "./url-guard.js";

/**
 * The shared state every subscription operation works on: the working copy
 * of all subscriptions (loaded at start, written through to the store), a
 * lock per subscription, the wake/lease/retry timers, and the side effects
 * (webhook deliveries, wake events) that run after a change is committed.
 */

export interface RuntimeOptions {
  engine: Engine;
  store: SubscriptionStore;
  signer: Signer;
  policy: WebhookUrlPolicy;
  resolver: Resolver;
  webhookTimeoutMs: number;
  now: () => number;
  /** A warning for the operator; `fields` make it a structured log event. */
  warn: (message: string, fields?: Record<string, unknown>) => void;
}

export interface Entry {
  record: SubscriptionRecord;
  links: Map<string, LinkRecord>;
  matcher: GlobSegment[] | null;
  timer: NodeJS.Timeout | null;
  /** The wake id of a webhook POST in flight, so the retry timer does not start a second one for it. */
  delivering: string | null;
}

/** Work that follows a committed change, run outside the subscription's lock. */
export type Effect =
  | { kind: "deliver"; id: string; wakeId: string }
  | { kind: "wake-event"; wakeStream: string; event: Record<string, unknown> };

/** setTimeout's limit; longer delays are re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SubscriptionRuntime {
  readonly entries = new Map<string, Entry>();
  /** Stream path → ids of subscriptions linked to it. */
  private readonly linked = new Map<string, Set<string>>();
  private readonly mutex = new KeyedMutex();
  private readonly inFlight = new Set<Promise<unknown>>();
  readonly shutdown = new AbortController();

  constructor(readonly options: RuntimeOptions) {}

  get closing(): boolean {
    return this.shutdown.signal.aborted;
  }

  now(): number {
    return this.options.now();
  }

  /**
   * Runs a section under the subscription's lock, then the effects it
   * queued. The section commits its own changes before returning.
   */
  async exclusive<T>(id: string, section: (effects: Effect[]) => Promise<T>): Promise<T> {
    return this.track(async () => {
      const effects: Effect[] = [];
      const result = await this.mutex.run(id, async () => {
        try {
          return await this.coordinated(id, () => section(effects));
        } catch (error) {
          if (!(error instanceof ProtocolError)) await this.resync(id);
          throw error;
        }
      });
      await this.runEffects(effects);
      return result;
    });
  }

  /**
   * After a section failed (its store commit, say), its changes to the
   * working copy may not be in the store: the working copy is made what the
   * store holds again, so running the operation again (an observer's retry)
   * starts from the truth. If the store cannot be read either, the next
   * section that commits writes the working copy through.
   */
  private async resync(id: string): Promise<void> {
    const { store } = this.options;
    try {
      let stored: { record: SubscriptionRecord; links: LinkRecord[] } | null;
      if (store.shared) stored = await store.shared.loadOne(id);
      else {
        const { subscriptions, links } = await store.load();
        const record = subscriptions.find((candidate) => candidate.id === id);
        stored = record ? { record, links: links.filter((link) => link.subscriptionId === id) } : null;
      }
      const entry = this.adopt(id, stored);
      if (entry) this.arm(entry);
    } catch (error) {
      this.options.warn(`subscription ${id}: re-reading it after a failure failed: ${String(error)}`);
    }
  }

  /** This server's id when the store is shared by several servers, else null. */
  get serverId(): string | null {
    return this.options.store.shared?.serverId ?? null;
  }

  /**
   * With a shared store, a section runs under the subscription's cluster-wide
   * lock and starts from the committed state, whatever another server did to
   * the subscription since this one last looked.
   */
  private coordinated<T>(id: string, section: () => Promise<T>): Promise<T> {
    const shared = this.options.store.shared;
    if (!shared) return section();
    return shared.lock(id, async () => {
      this.adopt(id, await shared.loadOne(id));
      return section();
    });
  }

  /**
   * Re-reads subscriptions another server changed (all of them when notices
   * may have been lost), under this server's lock only: the notice follows a
   * commit, so what is read is at least that commit. Timers are re-armed from
   * the new state; a timer that fires on several servers acts once, as its
   * section runs under the cluster-wide lock.
   */
  async refresh(ids: string[] | "all"): Promise<void> {
    const shared = this.options.store.shared;
    if (!shared || this.closing) return;
    const list = ids === "all" ? await this.allStoredIds() : ids;
    for (const id of list) {
      await this.track(() =>
        this.mutex.run(id, async () => {
          if (this.closing) return;
          const entry = this.adopt(id, await shared.loadOne(id));
          if (entry) this.arm(entry);
        }),
      ).catch((error: unknown) => this.options.warn(`subscription ${id}: refresh failed: ${String(error)}`));
    }
  }

  private async allStoredIds(): Promise<string[]> {
    const { subscriptions } = await this.options.store.load();
    return [...new Set([...subscriptions.map((record) => record.id), ...this.entries.keys()])];
  }

  /** Makes the working copy of one subscription what the store holds (null: it no longer exists). */
  private adopt(id: string, stored: { record: SubscriptionRecord; links: LinkRecord[] } | null): Entry | undefined {
    const entry = this.entries.get(id);
    if (stored === null) {
      if (entry) this.unregister(entry);
      return undefined;
    }
    if (!entry) {
      const fresh: Entry = {
        record: stored.record,
        links: new Map(stored.links.map((link) => [link.path, link])),
        matcher: stored.record.config.pattern === null ? null : parseGlob(stored.record.config.pattern),
        timer: null,
        delivering: null,
      };
      this.register(fresh);
      return fresh;
    }
    for (const path of entry.links.keys()) this.unindex(path, id);
    entry.record = stored.record;
    entry.links = new Map(stored.links.map((link) => [link.path, link]));
    entry.matcher = stored.record.config.pattern === null ? null : parseGlob(stored.record.config.pattern);
    for (const path of entry.links.keys()) this.index(path, id);
    return entry;
  }

  /** Whether another server is posting this wake now (its claim has not run out). */
  deliveredElsewhere(wake: WakeState): boolean {
    return wake.deliveringBy != null && wake.deliveringBy !== this.serverId && (wake.deliveringUntil ?? 0) > this.now();
  }

  track<T>(work: () => Promise<T>): Promise<T> {
    const promise = work();
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Waits for every operation and delivery in progress. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  linkedTo(path: string): ReadonlySet<string> {
    return this.linked.get(path) ?? new Set();
  }

  register(entry: Entry): void {
    this.entries.set(entry.record.id, entry);
    for (const path of entry.links.keys()) this.index(path, entry.record.id);
  }

  unregister(entry: Entry): void {
    this.disarm(entry);
    this.entries.delete(entry.record.id);
    for (const path of entry.links.keys()) this.unindex(path, entry.record.id);
  }

  setLink(entry: Entry, link: LinkRecord): void {
    entry.links.set(link.path, link);
    this.index(link.path, entry.record.id);
  }

  dropLink(entry: Entry, path: string): void {
    entry.links.delete(path);
    this.unindex(path, entry.record.id);
  }

  private index(path: string, id: string): void {
    let ids = this.linked.get(path);
    if (!ids) this.linked.set(path, (ids = new Set()));
    ids.add(id);
  }

  private unindex(path: string, id: string): void {
    const ids = this.linked.get(path);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.linked.delete(path);
  }

  /** Writes the subscription record (and any link changes) through to the store. */
  async commit(entry: Entry, putLinks: LinkRecord[] = [], removeLinks: string[] = []): Promise<void> {
    const id = entry.record.id;
    await this.options.store.commit({
      put: [entry.record],
      putLinks,
      removeLinks: removeLinks.map((path) => ({ subscriptionId: id, path })),
    });
  }

  /** The stream's tail if it is readable now, else null (absent, expired or deleted). */
  async tailOf(path: string): Promise<number | null> {
    const stream = await this.options.engine.store.getStream(path);
    if (!stream || stream.softDeleted || isExpired(stream, this.now())) return null;
    return stream.tail;
  }

  async tails(paths: Iterable<string>): Promise<Map<string, number | null>> {
    const tails = new Map<string, number | null>();
    for (const path of paths) if (!tails.has(path)) tails.set(path, await this.tailOf(path));
    return tails;
  }

  /** The subscription's streams with pending work, with their current tails. */
  async pending(entry: Entry): Promise<WakeStream[]> {
    const pending: WakeStream[] = [];
    for (const link of entry.links.values()) {
      const tail = await this.tailOf(link.path);
      if (hasPending(link, tail)) pending.push({ path: link.path, tail: formatOffset(tail!) });
    }
    return pending;
  }

  /**
   * Raises a wake when there is pending work and none is outstanding: a new
   * generation and wake id, then a webhook delivery or a wake event. The
   * caller commits the record.
   */
  async raiseWake(entry: Entry, effects: Effect[]): Promise<boolean> {
    const { record } = entry;
    if (record.wake !== null) return false;
    const streams = await this.pending(entry);
    if (streams.length === 0) return false;
    const wake = this.openWake(entry, streams);
    wakesRaised.at(record.config.type).inc();
    if (record.config.type === "webhook") {
      effects.push({ kind: "deliver", id: record.id, wakeId: wake.id });
    } else if (record.config.wakeStream !== null) {
      effects.push({
        kind: "wake-event",
        wakeStream: record.config.wakeStream,
        event: {
          type: "wake",
          subscription_id: record.id,
          wake_id: wake.id,
          generation: record.generation,
          streams: streams.map((stream) => stream.path),
          ts: this.now(),
        },
      });
    }
    return true;
  }

  /** Starts a new wake (next generation, fresh id) over the given streams; the caller commits. */
  openWake(entry: Entry, streams: WakeStream[]): WakeState {
    const { record } = entry;
    const webhook = record.config.type === "webhook";
    record.generation += 1;
    record.wake = {
      id: newWakeId(),
      streams,
      holder: null,
      leaseExpiresAt: null,
      delivered: false,
      attempts: 0,
      nextAttemptAt: webhook ? this.now() : null,
    };
    return record.wake;
  }

  /** Ends the outstanding wake (done, released or expired); the caller commits. */
  endWake(entry: Entry): void {
    entry.record.wake = null;
    this.disarm(entry);
  }

  /** Starts (or restarts) the holder's lease. */
  extendLease(entry: Entry, wake: WakeState): void {
    wake.leaseExpiresAt = this.now() + entry.record.config.leaseTtlMs;
  }

  token(entry: Entry): string {
    const { record } = entry;
    return this.options.signer.issueToken({ subscriptionId: record.id, generation: record.generation, wakeId: record.wake!.id });
  }

  /** Arms the subscription's single timer for its next deadline: lease expiry or delivery retry. */
  arm(entry: Entry): void {
    this.disarm(entry);
    const wake = entry.record.wake;
    if (wake === null || this.closing) return;
    // While this wake's POST is in flight, its answer (not a timer) decides what comes next; another
    // server's POST is retried here only once its claim has run out (that server may have died).
    const retryDue =
      wake.delivered || entry.delivering === wake.id
        ? null
        : this.deliveredElsewhere(wake)
          ? Math.max(wake.nextAttemptAt ?? 0, wake.deliveringUntil ?? 0)
          : wake.nextAttemptAt;
    const due = wake.leaseExpiresAt ?? retryDue;
    if (due === null) return;
    const id = entry.record.id;
    entry.timer = setTimeout(() => void this.fire(id), Math.min(MAX_TIMER_MS, Math.max(0, due - this.now())));
    entry.timer.unref();
  }

  disarm(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
  }

  private async fire(id: string): Promise<void> {
    await this.exclusive(id, async (effects) => {
      const entry = this.entries.get(id);
      if (!entry || this.closing) return;
      entry.timer = null;
      const wake = entry.record.wake;
      if (wake === null) return;
      const now = this.now();
      if (wake.leaseExpiresAt !== null && wake.leaseExpiresAt <= now) {
        // The holder went quiet: its wake ends, and pending work raises a new one.
        leaseExpiries.inc();
        this.endWake(entry);
        await this.raiseWake(entry, effects);
        await this.commit(entry);
        this.arm(entry);
        return;
      }
      if (!wake.delivered && entry.delivering === wake.id) return;
      if (!wake.delivered && this.deliveredElsewhere(wake)) {
        this.arm(entry);
        return;
      }
      if (!wake.delivered && wake.nextAttemptAt !== null && wake.nextAttemptAt <= now) {
        effects.push({ kind: "deliver", id, wakeId: wake.id });
        return;
      }
      this.arm(entry);
    }).catch((error: unknown) => this.options.warn(`subscription ${id}: timer failed: ${String(error)}`));
  }

  private async runEffects(effects: Effect[]): Promise<void> {
    for (const effect of effects) {
      if (effect.kind === "deliver") {
        // Deliveries run in the background: a webhook never delays the request that caused it.
        void this.track(() => deliverWake(this, effect.id, effect.wakeId)).catch((error: unknown) =>
          this.options.warn(`subscription ${effect.id}: delivery failed: ${String(error)}`),
        );
      } else {
        await this.appendWakeEvent(effect.wakeStream, effect.event);
      }
    }
  }

  /** Appends a wake event to a pull-wake stream (a JSON message, or a JSON line for other types). */
  private async appendWakeEvent(path: string, event: Record<string, unknown>): Promise<void> {
    const { engine } = this.options;
    try {
      const stream = await engine.live(path);
      const text = JSON.stringify(event);
      const data = isJsonContentType(stream.contentType) ? frameJsonMessages([text]) : `${text}\n`;
      await engine.append({
        path,
        contentType: stream.contentType,
        data: Buffer.from(data, "utf8"),
        streamSeq: null,
        producer: null,
        close: false,
      });
    } catch (error) {
      this.options.warn(`could not append a wake event to ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
