import { randomUUID } from "node:crypto";
import pg from "pg";
import { log } from "../logging/logger.js";
import { CommitListener } from "../storage/postgres-listener.js";
import { runMigrations } from "../storage/postgres-migrate.js";
import { checkSchemaName } from "../storage/postgres-schema.js";
import type { LinkRecord, SubscriptionRecord } from "./model.js";
import { fromLinkRow, fromRow, toLinkRow, toRow, type LinkRow, type SubscriptionRow } from "./rows.js";
import type { SubscriptionSecrets } from "./signing.js";
import type { SharedSubscriptions, SubscriptionBatch, SubscriptionStore } from "./store.js";

export interface PostgresSubscriptionStoreOptions {
  connectionString: string;
  /** The schema the stream store uses (default "rill"); the subscription tables live beside its tables. */
  schema?: string;
  /** Connections for subscription reads and writes (default 4), plus as many for locks and one LISTEN connection. */
  poolSize?: number;
  /** How long a section waits for another server's lock on the same subscription before failing (ms). */
  lockTimeoutMs?: number;
  listenMinBackoffMs?: number;
  listenMaxBackoffMs?: number;
}

const migrations: readonly ((s: string) => string)[] = [
  (s) => `
  CREATE TABLE ${s}.subscriptions (
    id          text   COLLATE "C" PRIMARY KEY,
    config      text   NOT NULL,
    config_hash text   NOT NULL,
    base_url    text   NOT NULL,
    created_at  bigint NOT NULL,
    status      text   NOT NULL,
    generation  bigint NOT NULL,
    wake        text
  );
  CREATE TABLE ${s}.subscription_links (
    subscription_id text    COLLATE "C" NOT NULL,
    path            text    COLLATE "C" NOT NULL,
    explicit        boolean NOT NULL,
    glob            boolean NOT NULL,
    acked_offset    text    NOT NULL,
    PRIMARY KEY (subscription_id, path)
  );
  CREATE TABLE ${s}.subscription_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
  );
  `,
];

const SECRETS_NAME = "subscription-secrets";

/**
 * Subscriptions shared by every server on one PostgreSQL database: the same
 * records as the SQLite store, in tables beside the stream tables, plus what
 * a cluster needs — a session advisory lock per subscription (held on a
 * connection of its own pool, so a section waiting for a lock never takes a
 * connection its holder needs to commit), and a NOTIFY of the changed ids
 * with every commit, so the other servers refresh their working copies and
 * timers. The signing secrets are written once, by whichever server starts
 * first, and read by all: one JWKS verifies every server's webhooks.
 */
export class PostgresSubscriptionStore implements SubscriptionStore, SharedSubscriptions {
  readonly kind = "postgres";
  readonly shared: SharedSubscriptions = this;
  private readonly s: string;
  private readonly channel: string;
  private readonly watchers = new Set<(ids: string[] | "all") => void>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly lockPool: pg.Pool,
    private readonly listener: CommitListener,
    schema: string,
    readonly serverId: string,
  ) {
    this.s = `"${schema}"`;
    this.channel = subscriptionChannel(schema);
  }

  static async open(options: PostgresSubscriptionStoreOptions): Promise<PostgresSubscriptionStore> {
    const schema = checkSchemaName(options.schema ?? "rill");
    const size = options.poolSize ?? 4;
    const pool = newPool(options.connectionString, size, `rill-subscriptions:${schema}`);
    const lockPool = newPool(options.connectionString, size, `rill-subscription-locks:${schema}`, options.lockTimeoutMs ?? 10_000);
    const serverId = randomUUID();
    let store: PostgresSubscriptionStore | undefined;
    const listener = new CommitListener({
      connection: { connectionString: options.connectionString, application_name: `rill-subscriptions-listen:${schema}` },
      channel: subscriptionChannel(schema),
      serverId,
      onSubscriptions: (ids) => store?.tell(ids),
      onResync: () => store?.tell("all"),
      minBackoffMs: options.listenMinBackoffMs,
      maxBackoffMs: options.listenMaxBackoffMs,
    });
    try {
      const client = await pool.connect();
      try {
        await runMigrations(client, schema, {
          versionTable: "subscription_schema_version",
          lockKey: "rill-migrate-subscriptions",
          migrations,
          what: "subscription tables",
        });
      } finally {
        client.release();
      }
      store = new PostgresSubscriptionStore(pool, lockPool, listener, schema, serverId);
      await listener.start();
      return store;
    } catch (error) {
      await Promise.all([pool.end(), lockPool.end()]).catch(() => undefined);
      throw error;
    }
  }

  async load(): Promise<{ subscriptions: SubscriptionRecord[]; links: LinkRecord[] }> {
    const [subscriptions, links] = await Promise.all([
      this.pool.query<SubscriptionRow>(`SELECT * FROM ${this.s}.subscriptions`),
      this.pool.query<LinkRow>(`SELECT * FROM ${this.s}.subscription_links`),
    ]);
    return { subscriptions: subscriptions.rows.map(fromRow), links: links.rows.map(fromLinkRow) };
  }

  async loadOne(id: string): Promise<{ record: SubscriptionRecord; links: LinkRecord[] } | null> {
    const [subscription, links] = await Promise.all([
      this.pool.query<SubscriptionRow>(`SELECT * FROM ${this.s}.subscriptions WHERE id = $1`, [id]),
      this.pool.query<LinkRow>(`SELECT * FROM ${this.s}.subscription_links WHERE subscription_id = $1`, [id]),
    ]);
    const row = subscription.rows[0];
    return row ? { record: fromRow(row), links: links.rows.map(fromLinkRow) } : null;
  }

  async commit(batch: SubscriptionBatch): Promise<void> {
    const ids = new Set<string>([
      ...(batch.remove ?? []),
      ...(batch.put ?? []).map((record) => record.id),
      ...(batch.putLinks ?? []).map((link) => link.subscriptionId),
      ...(batch.removeLinks ?? []).map((link) => link.subscriptionId),
    ]);
    if (ids.size === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      for (const id of batch.remove ?? []) {
        await client.query(`DELETE FROM ${this.s}.subscriptions WHERE id = $1`, [id]);
        await client.query(`DELETE FROM ${this.s}.subscription_links WHERE subscription_id = $1`, [id]);
      }
      for (const record of batch.put ?? []) {
        const row = toRow(record);
        await client.query(
          `INSERT INTO ${this.s}.subscriptions (id, config, config_hash, base_url, created_at, status, generation, wake)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, config_hash = EXCLUDED.config_hash,
             base_url = EXCLUDED.base_url, created_at = EXCLUDED.created_at, status = EXCLUDED.status,
             generation = EXCLUDED.generation, wake = EXCLUDED.wake`,
          [row.id, row.config, row.config_hash, row.base_url, row.created_at, row.status, row.generation, row.wake],
        );
      }
      for (const { subscriptionId, path } of batch.removeLinks ?? []) {
        await client.query(`DELETE FROM ${this.s}.subscription_links WHERE subscription_id = $1 AND path = $2`, [subscriptionId, path]);
      }
      for (const link of batch.putLinks ?? []) {
        const row = toLinkRow(link);
        await client.query(
          `INSERT INTO ${this.s}.subscription_links (subscription_id, path, explicit, glob, acked_offset)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (subscription_id, path) DO UPDATE SET explicit = EXCLUDED.explicit, glob = EXCLUDED.glob,
             acked_offset = EXCLUDED.acked_offset`,
          [row.subscription_id, row.path, row.explicit, row.glob, row.acked_offset],
        );
      }
      // Delivered on commit only, so no server refreshes before the rows are visible.
      for (const payload of notices(this.serverId, [...ids])) {
        await client.query("SELECT pg_notify($1, $2)", [this.channel, payload]);
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async loadSecrets(): Promise<SubscriptionSecrets | undefined> {
    const { rows } = await this.pool.query<{ value: string }>(`SELECT value FROM ${this.s}.subscription_secrets WHERE name = $1`, [
      SECRETS_NAME,
    ]);
    return rows[0] ? (JSON.parse(rows[0].value) as SubscriptionSecrets) : undefined;
  }

  /** The first server's secrets win; a server that raced it reads them back (see SubscriptionManager.open). */
  async saveSecrets(secrets: SubscriptionSecrets): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.s}.subscription_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [
      SECRETS_NAME,
      JSON.stringify(secrets),
    ]);
  }

  async lock<T>(id: string, section: () => Promise<T>): Promise<T> {
    const client = await this.lockPool.connect();
    let broken: Error | undefined;
    try {
      await client.query("SELECT pg_advisory_lock(hashtext($1), hashtext($2))", [`rill-subscription:${this.s}`, id]);
      try {
        return await section();
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", [`rill-subscription:${this.s}`, id]).catch((error: Error) => {
          // The lock dies with the connection: discard it rather than reuse it.
          broken = error;
        });
      }
    } catch (error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  watch(listener: (ids: string[] | "all") => void): void {
    this.watchers.add(listener);
  }

  private tell(ids: string[] | "all"): void {
    for (const watcher of this.watchers) watcher(ids);
  }

  async close(): Promise<void> {
    this.watchers.clear();
    await this.listener.stop();
    await Promise.all([this.pool.end(), this.lockPool.end()]);
  }
}

function subscriptionChannel(schema: string): string {
  return `rill_subs_${schema}`;
}

function newPool(connectionString: string, max: number, applicationName: string, lockTimeoutMs?: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: applicationName,
    keepAlive: true,
    ...(lockTimeoutMs === undefined ? {} : { options: `-c lock_timeout=${Math.max(1, Math.round(lockTimeoutMs))}` }),
  });
  // A failing idle or checked-out connection must not crash the process; the query's rejection is handled by its caller.
  pool.on("error", (error) =>
    log().warn({ event: "pg_idle_connection_failed", pool: "subscriptions", err: error.message }, "an idle PostgreSQL connection failed"),
  );
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

/** NOTIFY payloads of at most ~7.9 KB; ids are short, so this splits only for very large batches. */
function notices(from: string, ids: string[]): string[] {
  const payloads: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const id of ids) {
    const bytes = Buffer.byteLength(JSON.stringify(id)) + 1;
    if (current.length > 0 && size + bytes > 7_000) {
      payloads.push(JSON.stringify({ from, subscriptions: current }));
      current = [];
      size = 0;
    }
    current.push(id);
    size += bytes;
  }
  if (current.length > 0) payloads.push(JSON.stringify({ from, subscriptions: current }));
  return payloads;
}
