import pg from "pg";
import type { StreamState } from "../domain/model.js";
import { INSERT_COLUMNS, INSERT_PARAMS, stateParams, STREAM_COLUMNS } from "./stream-row.js";

/**
 * The SQL the PostgreSQL store runs, and how its results are parsed. The
 * tables are created by postgres-schema.ts.
 */

/** Batches one read query returns at most; a read needing more pages on. */
export const READ_PAGE_ROWS = 1024;

/** bigint columns come back as JavaScript numbers: positions and times stay far below 2^53. */
const INT8_OID = 20;
export const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (value: string) => Number(value);
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as pg.CustomTypesConfig;

export type Statements = ReturnType<typeof statements>;

/**
 * Named (prepared once per connection) statements. Each store has a pool of
 * its own, so names need not carry the schema (and stay well under
 * PostgreSQL's 63-byte limit, past which names would be cut and clash).
 */
export function statements(s: string) {
  const named = (name: string, text: string) => ({ name: `rill_${name}`, text });
  return {
    selectStream: named("select_stream", `SELECT ${STREAM_COLUMNS} FROM ${s}.streams WHERE path = $1`),
    selectTails: named(
      "select_tails",
      `SELECT path, tail, closed, soft_deleted FROM ${s}.streams WHERE path = ANY($1::text[])`,
    ),
    lockStreams: named(
      "lock_streams",
      `SELECT ${STREAM_COLUMNS} FROM ${s}.streams WHERE path = ANY($1::text[]) ORDER BY path FOR UPDATE`,
    ),
    insertStream: named(
      "insert_stream",
      `INSERT INTO ${s}.streams (${INSERT_COLUMNS})
       VALUES (${INSERT_PARAMS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`,
    ),
    // Data-modifying CTEs all run, whether or not the final SELECT reads them;
    // empty arrays make them no-ops. NOTIFY is delivered on COMMIT.
    writeRound: named(
      "write_round",
      `WITH new_batches AS (
         INSERT INTO ${s}.batches (stream_id, start, bytes, appended_at)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[])
       ), new_producers AS (
         INSERT INTO ${s}.producers (stream_id, producer_id, epoch, last_seq)
         SELECT * FROM unnest($5::bigint[], $6::text[], $7::bigint[], $8::bigint[])
         ON CONFLICT (stream_id, producer_id) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq
       ), new_states AS (
         UPDATE ${s}.streams AS s SET content_type = u.content_type, ttl_seconds = u.ttl_seconds,
           expires_at = u.expires_at, last_access_at = u.last_access_at, tail = u.tail, closed = u.closed,
           last_stream_seq = u.last_stream_seq, fork_count = u.fork_count, soft_deleted = u.soft_deleted,
           closed_by_id = u.closed_by_id, closed_by_epoch = u.closed_by_epoch, closed_by_seq = u.closed_by_seq,
           earliest = u.earliest, removed_bytes = u.removed_bytes
         FROM unnest($9::bigint[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
           $15::boolean[], $16::text[], $17::bigint[], $18::boolean[], $19::text[], $20::bigint[], $21::bigint[],
           $22::bigint[], $23::bigint[])
           AS u(id, content_type, ttl_seconds, expires_at, last_access_at, tail, closed, last_stream_seq,
             fork_count, soft_deleted, closed_by_id, closed_by_epoch, closed_by_seq, earliest, removed_bytes)
         WHERE s.id = u.id
       )
       SELECT pg_notify($24, payload) FROM unnest($25::text[]) AS payload`,
    ),
    touch: named(
      "touch",
      `UPDATE ${s}.streams AS s SET last_access_at = t.at
       FROM unnest($1::text[], $2::bigint[]) AS t(path, at)
       WHERE s.path = t.path AND s.ttl_seconds IS NOT NULL AND s.last_access_at < t.at`,
    ),
    deleteStream: named("delete_stream", `DELETE FROM ${s}.streams WHERE id = $1`),
    countStreams: named("count_streams", `SELECT count(*) AS n FROM ${s}.streams`),
    // starts_with on a C-collated column is an index range scan (PostgreSQL 15+).
    list: named(
      "list",
      `SELECT ${STREAM_COLUMNS} FROM ${s}.streams
       WHERE starts_with(path, $1::text) AND ($2::text IS NULL OR path > $2::text)
       ORDER BY path LIMIT $3`,
    ),
    expiredPaths: named(
      "expired_paths",
      `SELECT path FROM ${s}.streams WHERE expiry_at IS NOT NULL AND NOT soft_deleted AND expiry_at <= $1
       ORDER BY expiry_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    ),
    insertBatch: named(
      "insert_batch",
      `INSERT INTO ${s}.batches (stream_id, start, bytes, appended_at) VALUES ($1, $2, $3, $4)`,
    ),
    insertBatches: named(
      "insert_batches",
      `INSERT INTO ${s}.batches (stream_id, start, bytes, appended_at)
       SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bigint[])`,
    ),
    scanBatches: named(
      "scan_batches",
      `SELECT b.start, b.bytes, b.appended_at FROM ${s}.batches b JOIN ${s}.streams st ON st.id = b.stream_id
       WHERE st.path = $1 AND b.start >= $2 AND b.start < $3 ORDER BY b.start LIMIT $4`,
    ),
    headBatches: named(
      "head_batches",
      `SELECT start, octet_length(bytes) AS bytes, appended_at FROM ${s}.batches WHERE stream_id = $1
       ORDER BY start LIMIT $2`,
    ),
    batchSizes: named(
      "batch_sizes",
      `SELECT start, octet_length(bytes) AS size FROM ${s}.batches WHERE stream_id = $1 AND start = ANY($2::bigint[])`,
    ),
    deleteBatchesAt: named("delete_batches_at", `DELETE FROM ${s}.batches WHERE stream_id = $1 AND start = ANY($2::bigint[])`),
    deleteHead: named("delete_head", `DELETE FROM ${s}.batches WHERE stream_id = $1 AND start < $2`),
    forkLimit: named("fork_limit", `SELECT min(earliest) AS earliest FROM ${s}.streams WHERE forked_from = $1`),
    // `before`: bytes from $2 up to the row. Stops after the row that reaches $4.
    readBatches: named(
      "read_batches",
      `WITH st AS (SELECT id FROM ${s}.streams WHERE path = $1),
       first AS (
         SELECT coalesce(
           (SELECT b.start FROM ${s}.batches b, st WHERE b.stream_id = st.id AND b.start <= $2 ORDER BY b.start DESC LIMIT 1),
           $2) AS start)
       SELECT start, bytes FROM (
         SELECT b.start, b.bytes,
           sum(octet_length(b.bytes)) OVER (ORDER BY b.start) - octet_length(b.bytes) - ($2 - first.start) AS before
         FROM ${s}.batches b, st, first
         WHERE b.stream_id = st.id AND b.start >= first.start AND b.start < $3
         ORDER BY b.start LIMIT ${READ_PAGE_ROWS}) AS w
       WHERE w.before < $4
       ORDER BY start`,
    ),
    batchAtOrBefore: named(
      "batch_at_or_before",
      `SELECT b.start, b.bytes FROM ${s}.batches b JOIN ${s}.streams st ON b.stream_id = st.id
       WHERE st.path = $1 AND b.start <= $2 ORDER BY b.start DESC LIMIT 1`,
    ),
    deleteBatches: named("delete_batches", `DELETE FROM ${s}.batches WHERE stream_id = $1`),
    selectProducers: named(
      "select_producers",
      `SELECT p.stream_id, p.producer_id, p.epoch, p.last_seq FROM ${s}.producers p
       JOIN unnest($1::bigint[], $2::text[]) AS k(stream_id, producer_id)
         ON p.stream_id = k.stream_id AND p.producer_id = k.producer_id`,
    ),
    deleteProducers: named("delete_producers", `DELETE FROM ${s}.producers WHERE stream_id = $1`),
  };
}

/** A state as `insertStream`'s positional parameters. */
export function insertValues(state: StreamState): unknown[] {
  const params = stateParams(state, (value) => value);
  return INSERT_PARAMS.map((key) => params[key]);
}
