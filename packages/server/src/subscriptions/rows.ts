import type { LinkRecord, SubscriptionConfig, SubscriptionRecord, SubscriptionStatus, WakeState } from "./model.js";

/**
 * How subscription records and links are laid out in SQL rows, for the SQLite
 * and the PostgreSQL subscription stores (configuration and wake state as
 * JSON text: they are read and written whole, never queried into).
 */

export interface SubscriptionRow {
  id: string;
  config: string;
  config_hash: string;
  base_url: string;
  created_at: number;
  status: string;
  generation: number;
  wake: string | null;
}

/** SQLite stores booleans as 0/1, PostgreSQL as booleans. */
export interface LinkRow<B = boolean> {
  subscription_id: string;
  path: string;
  explicit: B;
  glob: B;
  acked_offset: string;
}

export function toRow(record: SubscriptionRecord): SubscriptionRow {
  return {
    id: record.id,
    config: JSON.stringify(record.config),
    config_hash: record.configHash,
    base_url: record.baseUrl,
    created_at: record.createdAt,
    status: record.status,
    generation: record.generation,
    wake: record.wake === null ? null : JSON.stringify(record.wake),
  };
}

export function fromRow(row: SubscriptionRow): SubscriptionRecord {
  return {
    id: row.id,
    config: JSON.parse(row.config) as SubscriptionConfig,
    configHash: row.config_hash,
    baseUrl: row.base_url,
    createdAt: Number(row.created_at),
    status: row.status as SubscriptionStatus,
    generation: Number(row.generation),
    wake: row.wake === null ? null : (JSON.parse(row.wake) as WakeState),
  };
}

export function toLinkRow(link: LinkRecord): LinkRow {
  return {
    subscription_id: link.subscriptionId,
    path: link.path,
    explicit: link.explicit,
    glob: link.glob,
    acked_offset: link.ackedOffset,
  };
}

export function fromLinkRow(row: LinkRow<boolean | number>): LinkRecord {
  return {
    subscriptionId: row.subscription_id,
    path: row.path,
    explicit: row.explicit === true || row.explicit === 1,
    glob: row.glob === true || row.glob === 1,
    ackedOffset: row.acked_offset,
  };
}
