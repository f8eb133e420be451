import type { CompactionPolicy, StreamState } from "../domain/model.js";

/**
 * How a stream's state is laid out in the SQL stores' `streams` table
 * (SQLite and PostgreSQL share the layout; only column types differ). Each
 * store keeps its own SQL; the columns, and the mapping between a row and a
 * StreamState, live here once.
 */

/** A `streams` row as read. Flags come back as booleans from PostgreSQL and as 0/1 from SQLite. */
export interface StreamRow<Flag extends boolean | number = boolean | number> {
  id: number;
  path: string;
  content_type: string;
  ttl_seconds: number | null;
  expires_at: number | null;
  created_at: number;
  last_access_at: number;
  tail: number;
  closed: Flag;
  last_stream_seq: string | null;
  forked_from: string | null;
  fork_offset: number;
  fork_count: number;
  soft_deleted: Flag;
  closed_by_id: string | null;
  closed_by_epoch: number | null;
  closed_by_seq: number | null;
  retention_age: number | null;
  retention_bytes: number | null;
  /** The CompactionPolicy as JSON, or null. */
  compaction: string | null;
  earliest: number;
  removed_bytes: number;
}

/**
 * A state's column values, keyed as named parameters: StreamState's own
 * scalar fields, with its flags bound the dialect's way (`Flag`) and its
 * nested values flattened into the columns that hold them.
 */
export type StateParams<Flag> = Omit<StreamState, "closed" | "softDeleted" | "closedBy" | "retention" | "compaction"> & {
  closed: Flag;
  softDeleted: Flag;
  closedById: string | null;
  closedByEpoch: number | null;
  closedBySeq: number | null;
  retentionAge: number | null;
  retentionBytes: number | null;
  /** The CompactionPolicy as JSON, or null. */
  compaction: string | null;
};

/**
 * The columns a new stream's INSERT fills (all but the generated id and
 * expiry_at), in table order, each with the StateParams key it takes.
 */
const INSERTED = [
  ["path", "path"],
  ["content_type", "contentType"],
  ["ttl_seconds", "ttlSeconds"],
  ["expires_at", "expiresAt"],
  ["created_at", "createdAt"],
  ["last_access_at", "lastAccessAt"],
  ["tail", "tail"],
  ["closed", "closed"],
  ["last_stream_seq", "lastStreamSeq"],
  ["forked_from", "forkedFrom"],
  ["fork_offset", "forkOffset"],
  ["fork_count", "forkCount"],
  ["soft_deleted", "softDeleted"],
  ["closed_by_id", "closedById"],
  ["closed_by_epoch", "closedByEpoch"],
  ["closed_by_seq", "closedBySeq"],
  ["retention_age", "retentionAge"],
  ["retention_bytes", "retentionBytes"],
  ["compaction", "compaction"],
  ["earliest", "earliest"],
  ["removed_bytes", "removedBytes"],
] as const satisfies readonly (readonly [string, keyof StateParams<unknown>])[];

/** The column list of an INSERT into `streams`. */
export const INSERT_COLUMNS = INSERTED.map(([column]) => column).join(", ");

/** The StateParams keys in INSERT_COLUMNS order. */
export const INSERT_PARAMS: readonly (keyof StateParams<unknown>)[] = INSERTED.map(([, key]) => key);

/** A `streams` column's name. */
export type StreamColumn = (typeof INSERTED)[number][0];

/** The columns a StreamRow is read with, the given ones read as an expression instead (`expression AS column`). */
export function streamColumnsWith(expressions: Partial<Record<StreamColumn, string>>): string {
  const columns = INSERTED.map(([column]) => {
    const expression = expressions[column];
    return expression === undefined ? column : `${expression} AS ${column}`;
  });
  return ["id", ...columns].join(", ");
}

/** Every column a StreamRow is read with, as stored. */
export const STREAM_COLUMNS = streamColumnsWith({});

export function stateParams<Flag>(state: StreamState, flag: (value: boolean) => Flag): StateParams<Flag> {
  return {
    path: state.path,
    contentType: state.contentType,
    ttlSeconds: state.ttlSeconds,
    expiresAt: state.expiresAt,
    createdAt: state.createdAt,
    lastAccessAt: state.lastAccessAt,
    tail: state.tail,
    closed: flag(state.closed),
    lastStreamSeq: state.lastStreamSeq,
    forkedFrom: state.forkedFrom,
    forkOffset: state.forkOffset,
    forkCount: state.forkCount,
    softDeleted: flag(state.softDeleted),
    closedById: state.closedBy?.id ?? null,
    closedByEpoch: state.closedBy?.epoch ?? null,
    closedBySeq: state.closedBy?.seq ?? null,
    retentionAge: state.retention?.maxAgeSeconds ?? null,
    retentionBytes: state.retention?.maxBytes ?? null,
    compaction: state.compaction === null ? null : JSON.stringify(state.compaction),
    earliest: state.earliest,
    removedBytes: state.removedBytes,
  };
}

export function rowToState(row: StreamRow): StreamState {
  return {
    path: row.path,
    contentType: row.content_type,
    ttlSeconds: row.ttl_seconds,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    lastAccessAt: row.last_access_at,
    tail: row.tail,
    closed: flag(row.closed),
    lastStreamSeq: row.last_stream_seq,
    forkedFrom: row.forked_from,
    forkOffset: row.fork_offset,
    forkCount: row.fork_count,
    softDeleted: flag(row.soft_deleted),
    closedBy:
      row.closed_by_id === null
        ? null
        : { id: row.closed_by_id, epoch: row.closed_by_epoch ?? 0, seq: row.closed_by_seq ?? 0 },
    retention:
      row.retention_age === null && row.retention_bytes === null
        ? null
        : { maxAgeSeconds: row.retention_age, maxBytes: row.retention_bytes },
    compaction: row.compaction === null ? null : (JSON.parse(row.compaction) as CompactionPolicy),
    earliest: row.earliest,
    removedBytes: row.removed_bytes,
  };
}

function flag(value: boolean | number): boolean {
  return typeof value === "number" ? value !== 0 : value;
}
