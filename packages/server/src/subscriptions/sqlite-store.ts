import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { LinkRecord, SubscriptionRecord } from "./model.js";
import { fromLinkRow, fromRow, toLinkRow, toRow, type LinkRow, type SubscriptionRow } from "./rows.js";
import type { SubscriptionSecrets } from "./signing.js";
import type { SubscriptionBatch, SubscriptionStore } from "./store.js";

/**
 * Subscription state in its own SQLite file, `<dataDir>/subscriptions.db`
 * (WAL, synchronous=FULL: a commit is on disk before the client hears back).
 * Kept apart from the stream database so that neither schema constrains the
 * other. The file holds the webhook signing key, so it is made owner-only.
 */

const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE subscriptions (
    id          TEXT PRIMARY KEY,
    config      TEXT    NOT NULL, -- normalized SubscriptionConfig, JSON
    config_hash TEXT    NOT NULL,
    base_url    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    wake        TEXT              -- WakeState (wake, lease, retry schedule), JSON; NULL when idle
  ) WITHOUT ROWID;

  CREATE TABLE links (
    subscription_id TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    explicit        INTEGER NOT NULL,
    glob            INTEGER NOT NULL,
    acked_offset    TEXT    NOT NULL,
    PRIMARY KEY (subscription_id, path)
  ) WITHOUT ROWID;

  CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
`;


export class SqliteSubscriptionStore implements SubscriptionStore {
  readonly kind = "sqlite";
  private readonly statements;
  private readonly apply: (batch: SubscriptionBatch) => void;

  private constructor(private readonly db: Database.Database) {
    this.statements = {
      putSubscription: db.prepare(
        `INSERT OR REPLACE INTO subscriptions (id, config, config_hash, base_url, created_at, status, generation, wake)
         VALUES (@id, @config, @config_hash, @base_url, @created_at, @status, @generation, @wake)`,
      ),
      removeSubscription: db.prepare(`DELETE FROM subscriptions WHERE id = ?`),
      removeLinksOf: db.prepare(`DELETE FROM links WHERE subscription_id = ?`),
      putLink: db.prepare(
        `INSERT OR REPLACE INTO links (subscription_id, path, explicit, glob, acked_offset)
         VALUES (@subscription_id, @path, @explicit, @glob, @acked_offset)`,
      ),
      removeLink: db.prepare(`DELETE FROM links WHERE subscription_id = ? AND path = ?`),
      allSubscriptions: db.prepare(`SELECT * FROM subscriptions`),
      allLinks: db.prepare(`SELECT * FROM links`),
      getSecret: db.prepare(`SELECT value FROM secrets WHERE name = ?`),
      putSecret: db.prepare(`INSERT OR REPLACE INTO secrets (name, value) VALUES (?, ?)`),
    };
    const s = this.statements;
    this.apply = db.transaction((batch: SubscriptionBatch) => {
      for (const id of batch.remove ?? []) {
        s.removeSubscription.run(id);
        s.removeLinksOf.run(id);
      }
      for (const record of batch.put ?? []) s.putSubscription.run(toRow(record));
      for (const { subscriptionId, path } of batch.removeLinks ?? []) s.removeLink.run(subscriptionId, path);
      for (const link of batch.putLinks ?? []) {
        const row = toLinkRow(link);
        s.putLink.run({ ...row, explicit: row.explicit ? 1 : 0, glob: row.glob ? 1 : 0 });
      }
    });
  }

  static open(dataDir: string): SqliteSubscriptionStore {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, "subscriptions.db");
    const db = new Database(file);
    try {
      chmodSync(file, 0o600);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = OFF");
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version === 0) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      } else if (version !== SCHEMA_VERSION) {
        throw new Error(`${file} has schema version ${version}; this server understands ${SCHEMA_VERSION}`);
      }
      return new SqliteSubscriptionStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async load(): Promise<{ subscriptions: SubscriptionRecord[]; links: LinkRecord[] }> {
    const subscriptions = (this.statements.allSubscriptions.all() as SubscriptionRow[]).map(fromRow);
    const links = (this.statements.allLinks.all() as LinkRow<number>[]).map(fromLinkRow);
    return { subscriptions, links };
  }

  async commit(batch: SubscriptionBatch): Promise<void> {
    this.apply(batch);
  }

  async loadSecrets(): Promise<SubscriptionSecrets | undefined> {
    const row = this.statements.getSecret.get("subscription-secrets") as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as SubscriptionSecrets) : undefined;
  }

  async saveSecrets(secrets: SubscriptionSecrets): Promise<void> {
    this.statements.putSecret.run("subscription-secrets", JSON.stringify(secrets));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
