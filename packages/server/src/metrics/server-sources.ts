import type { Server } from "node:net";
import type { LiveSessions } from "../http/live-sessions.js";
import type { Store, StoreUsage } from "../storage/store.js";
import type { SubscriptionManager } from "../subscriptions/manager.js";
import { liveReaders, openConnections } from "./http-metrics.js";
import type { Sample } from "./registry.js";
import { commitQueueDepth, pgListenUp, pgPoolClients, storeSize, streamCount } from "./store-metrics.js";
import { retryQueueDepth } from "./subscription-metrics.js";

/** What the PostgreSQL store reports beyond the Store interface. */
interface PoolReporting {
  poolClients(): Array<[Record<string, string>, number]>;
  readonly listening: boolean;
  readonly schemaName: string;
}

const hasPool = (store: Store): store is Store & PoolReporting => typeof (store as Partial<PoolReporting>).poolClients === "function";

export interface ServerParts {
  http: Server;
  store: Store;
  sessions: Pick<LiveSessions, "count">;
  subscriptions: SubscriptionManager;
  /** How long a scrape may wait for the store's size (ms). */
  usageTimeoutMs: number;
}

/**
 * Registers one server's scrape-time gauges: open connections, live readers,
 * the commit queue, stream count and store size, pool and LISTEN state, the
 * webhook retry queue. Returns the function that removes them (on close).
 */
export function watchServer(parts: ServerParts): () => void {
  const { http, store, sessions, subscriptions } = parts;
  let open = 0;
  // One handler shared by every socket ('close' comes once per socket): no closure or once() wrapper per connection.
  const onClose = () => open--;
  const onConnection = (socket: import("node:net").Socket) => {
    open++;
    socket.on("close", onClose);
  };
  http.on("connection", onConnection);

  const byStore = (value: number): Sample => [[{ store: store.kind }, value]];
  // Both store gauges come from one usage query per scrape (prom-client collects every metric at once).
  // It starts on the next turn, after the synchronous gauges were read: its own pool checkout must not
  // show up in rill_pg_pool_clients.
  let usage: Promise<StoreUsage | undefined> | null = null;
  const sampleUsage = () =>
    (usage ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => store.usage?.(parts.usageTimeoutMs))
      .catch(() => undefined)
      .finally(() => (usage = null)));

  const removers = [
    openConnections.addSource(() => open),
    liveReaders.addSource(() => [
      [{ mode: "sse" }, sessions.count("sse")],
      [{ mode: "long-poll" }, sessions.count("long-poll")],
    ]),
    commitQueueDepth.addSource(() => (store.pendingWrites === undefined ? undefined : byStore(store.pendingWrites))),
    streamCount.addSource(async () => {
      const found = await sampleUsage();
      return found && byStore(found.streams);
    }),
    storeSize.addSource(async () => {
      const found = await sampleUsage();
      return found && byStore(found.bytes);
    }),
    retryQueueDepth.addSource(() => subscriptions.retryQueueDepth()),
  ];
  if (hasPool(store)) {
    removers.push(pgPoolClients.addSource(() => store.poolClients()));
    removers.push(pgListenUp.addSource(() => [[{ schema: store.schemaName }, store.listening ? 1 : 0]]));
  }
  return () => {
    http.off("connection", onConnection);
    for (const remove of removers) remove();
  };
}
