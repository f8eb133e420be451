import { counter, histogram, sampledGauge, SECONDS_BUCKETS } from "./registry.js";

export const commitRoundDuration = histogram({
  name: "rill_commit_round_duration_seconds",
  help: "Duration of one commit round (one transaction holding every write queued meanwhile), by store",
  labelNames: ["store"],
  buckets: SECONDS_BUCKETS,
});
export const commitRoundSize = histogram({
  name: "rill_commit_round_requests",
  help: "Write requests carried by one commit round, by store",
  labelNames: ["store"],
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
});
export const storeCommitDuration = histogram({
  name: "rill_store_commit_duration_seconds",
  help: "Duration of the COMMIT of a round: the fsync on SQLite, the database's commit on PostgreSQL",
  labelNames: ["store"],
  buckets: SECONDS_BUCKETS,
});
export const commitQueueDepth = sampledGauge({
  name: "rill_commit_queue_depth",
  help: "Write requests waiting for the next commit round, by store",
  labelNames: ["store"],
});

export const streamsCreated = counter({ name: "rill_streams_created_total", help: "Streams created (forks included)" });
export const streamsDeleted = counter({ name: "rill_streams_deleted_total", help: "Streams deleted by a DELETE" });
export const streamsExpired = counter({ name: "rill_streams_expired_total", help: "Streams removed because their TTL or expiry time passed" });
export const trimmedBytes = counter({
  name: "rill_trimmed_bytes_total",
  help: "Stored bytes removed by retention and key compaction, by which (docs/retention.md)",
  labelNames: ["by"],
});
export const trimmedMessages = counter({
  name: "rill_trimmed_messages_total",
  help: "Messages removed by key compaction, and batches (whole appends) removed by retention, by which",
  labelNames: ["by"],
});
export const streamCount = sampledGauge({
  name: "rill_streams",
  help: "Streams in the store (readable ones; sampled at scrape time)",
  labelNames: ["store"],
});
export const storeSize = sampledGauge({
  name: "rill_store_size_bytes",
  help: "Size of the store: SQLite database and WAL files, PostgreSQL relations with indexes and TOAST, memory: stored bytes",
  labelNames: ["store"],
});

export const pgPoolClients = sampledGauge({
  name: "rill_pg_pool_clients",
  help: "PostgreSQL pool: connections in use and idle, and requests waiting for one",
  labelNames: ["state"],
});
export const pgListenUp = sampledGauge({
  name: "rill_pg_listen_up",
  help: "1 while the PostgreSQL LISTEN connection (other servers' commit notices) is connected, else 0; by schema",
  labelNames: ["schema"],
});
export const pgNotices = counter({ name: "rill_pg_notices_received_total", help: "Commit notices received from other servers over LISTEN" });
export const pgResyncs = counter({
  name: "rill_pg_resyncs_total",
  help: "Times watched streams were re-checked because notices may have been missed (LISTEN reconnect or oversized notice)",
});
export const pgListenReconnects = counter({ name: "rill_pg_listen_reconnects_total", help: "Times the LISTEN connection was re-established" });
export const pgRoundRetries = counter({
  name: "rill_pg_round_retries_total",
  help: "Commit rounds run again after losing a race to another server (deadlock, serialization, concurrent create)",
});

/** At the end of a store's commit round: its duration (from `startedAt`, a performance.now()) and size. */
export function recordRound(store: string, startedAt: number, requests: number): void {
  commitRoundDuration.at(store).observe((performance.now() - startedAt) / 1000);
  commitRoundSize.at(store).observe(requests);
}

/** After a round's COMMIT returned (from `startedAt`, a performance.now() taken just before it). */
export function recordCommit(store: string, startedAt: number): void {
  storeCommitDuration.at(store).observe((performance.now() - startedAt) / 1000);
}
