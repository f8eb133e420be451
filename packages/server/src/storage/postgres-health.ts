import type pg from "pg";
import type { StoreUsage } from "./store.js";

/**
 * Readiness of the PostgreSQL store: a pooled connection answers within the
 * timeout, and the database takes writes (not a standby in recovery). The
 * query carries its own client-side timeout too, so a hung answer gives its
 * connection back instead of holding it.
 */
export async function checkPostgresWritable(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const { rows } = await withTimeout(
    pool.query<{ recovery: boolean }>({ text: "SELECT pg_is_in_recovery() AS recovery", query_timeout: timeoutMs } as pg.QueryConfig),
    timeoutMs,
    "PostgreSQL",
  );
  if (rows[0]?.recovery) throw new Error("the database is a read-only standby (in recovery)");
}

/** Streams and the on-disk size of the schema's relations (with indexes and TOAST), bounded by a timeout. */
export async function postgresUsage(pool: pg.Pool, schema: string, timeoutMs: number): Promise<StoreUsage> {
  const quoted = `"${schema}"`;
  const { rows } = await withTimeout(
    pool.query<{ streams: string; bytes: string }>({
      text: `SELECT (SELECT count(*) FROM ${quoted}.streams WHERE NOT soft_deleted) AS streams,
                    pg_total_relation_size('${quoted}.streams') + pg_total_relation_size('${quoted}.batches')
                      + pg_total_relation_size('${quoted}.producers') AS bytes`,
      query_timeout: timeoutMs,
    } as pg.QueryConfig),
    timeoutMs,
    "PostgreSQL",
  );
  return { streams: Number(rows[0]?.streams ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  // A query that loses the race still settles later; its rejection must not go unhandled.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
