import pg from "pg";
import { log } from "../logging/logger.js";
import { pgListenReconnects, pgNotices } from "../metrics/store-metrics.js";
import type { RemoteCommit } from "./store.js";

/**
 * Commit notices travel between servers as NOTIFY payloads on one channel per
 * schema. A payload is JSON: `{"from": serverId, "commits": [{path, tail,
 * closed, gone}, …]}`, or `{"from": serverId, "resync": true}` when a single
 * notice would not fit PostgreSQL's 8000-byte payload limit (a very long
 * path): receivers then re-check every stream they have readers on.
 */
export const MAX_PAYLOAD_BYTES = 7900;

interface Payload {
  from: string;
  commits?: RemoteCommit[];
  resync?: boolean;
  /** Ids of subscriptions whose rows changed (the shared subscription store's channel). */
  subscriptions?: string[];
}

/** Packs notices into as few payloads as fit under the limit. */
export function encodeNotices(from: string, commits: Iterable<RemoteCommit>): string[] {
  const payloads: string[] = [];
  const head = `{"from":${JSON.stringify(from)},"commits":[`;
  let current: string[] = [];
  let size = Buffer.byteLength(head) + 2;
  let resync = false;
  for (const commit of commits) {
    const item = JSON.stringify({
      path: commit.path,
      start: commit.start,
      tail: commit.tail,
      closed: commit.closed,
      gone: commit.gone,
    });
    const bytes = Buffer.byteLength(item) + 1;
    if (Buffer.byteLength(head) + 2 + bytes > MAX_PAYLOAD_BYTES) {
      resync = true;
      continue;
    }
    if (size + bytes > MAX_PAYLOAD_BYTES) {
      payloads.push(`${head}${current.join(",")}]}`);
      current = [];
      size = Buffer.byteLength(head) + 2;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) payloads.push(`${head}${current.join(",")}]}`);
  if (resync) payloads.push(JSON.stringify({ from, resync: true } satisfies Payload));
  return payloads;
}

export interface CommitListenerOptions {
  /** node-postgres connection settings for the dedicated LISTEN connection. */
  connection: pg.ClientConfig;
  channel: string;
  /** This server's id: its own notices are skipped (its readers were woken locally). */
  serverId: string;
  onCommits?(commits: RemoteCommit[]): void;
  /** Subscriptions another server changed (on the subscription store's channel). */
  onSubscriptions?(ids: string[]): void;
  /**
   * Called after the connection was lost and LISTEN is in place again:
   * notices sent meanwhile are lost, so everything watched must be re-checked.
   */
  onResync(): void;
  /** Backoff between reconnection attempts (ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A `SELECT 1` on the connection this often detects a silently dead connection (ms; 0: off). */
  heartbeatMs?: number;
}

/**
 * Holds one connection outside the pool that LISTENs on the channel, and
 * keeps it: when the connection fails (the server restarted, a proxy cut it,
 * the heartbeat timed out) it reconnects with exponential backoff and then
 * asks for a resync.
 */
export class CommitListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Times the connection was re-established (its log line says how often). */
  private reconnects = 0;

  constructor(private readonly options: CommitListenerOptions) {
    this.backoffMs = options.minBackoffMs ?? 100;
  }

  /** Connects and starts listening; rejects when the first attempt fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopHeartbeat();
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  /** The PostgreSQL backend pid of the LISTEN connection, or null while it is down. */
  get backendPid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.options.connection, keepAlive: true });
    let failed = false;
    const fail = (error?: unknown) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = null;
      this.stopHeartbeat();
      client.removeAllListeners("notification");
      client.end().catch(() => undefined);
      if (!this.stopped) {
        log().warn(
          { event: "pg_listen_lost", channel: this.options.channel, err: error ? describe(error) : "connection ended" },
          "PostgreSQL LISTEN connection lost; reconnecting",
        );
        this.scheduleReconnect();
      }
    };
    client.on("error", (error) => fail(error));
    client.on("end", () => fail());
    client.on("notification", (message) => {
      if (message.channel === this.options.channel && message.payload) this.receive(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.options.channel}"`);
    } catch (error) {
      failed = true;
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.startHeartbeat(client, fail);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        () => {
          if (this.stopped) return;
          this.backoffMs = this.options.minBackoffMs ?? 100;
          this.reconnects++;
          pgListenReconnects.inc();
          log().info(
            { event: "pg_listen_reconnected", channel: this.options.channel, reconnects: this.reconnects },
            "PostgreSQL LISTEN connection re-established; re-checking watched streams",
          );
          this.options.onResync();
        },
        (error: unknown) => {
          if (this.stopped) return;
          log().warn(
            { event: "pg_listen_reconnect_failed", channel: this.options.channel, err: describe(error), retry_in_ms: Math.round(this.backoffMs) },
            "PostgreSQL LISTEN reconnection failed; retrying",
          );
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private startHeartbeat(client: pg.Client, fail: (error?: unknown) => void): void {
    const every = this.options.heartbeatMs ?? 10_000;
    if (every <= 0) return;
    this.heartbeat = setInterval(() => {
      const timeout = setTimeout(() => fail(new Error("heartbeat timed out")), Math.max(every, 5000));
      timeout.unref();
      client.query("SELECT 1").then(
        () => clearTimeout(timeout),
        (error: unknown) => {
          clearTimeout(timeout);
          fail(error);
        },
      );
    }, every);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private receive(payload: string): void {
    let parsed: Payload;
    try {
      parsed = JSON.parse(payload) as Payload;
    } catch {
      return;
    }
    if (parsed.from === this.options.serverId) return;
    pgNotices.inc();
    if (parsed.resync) this.options.onResync();
    if (Array.isArray(parsed.commits) && parsed.commits.length > 0) this.options.onCommits?.(parsed.commits);
    if (Array.isArray(parsed.subscriptions) && parsed.subscriptions.length > 0) this.options.onSubscriptions?.(parsed.subscriptions);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
