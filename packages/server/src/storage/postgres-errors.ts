import { ProtocolError } from "../domain/errors.js";

/** What PostgreSQL (or the connection to it) failing means for a request. */

export function sqlState(error: unknown): string {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : "";
}

/** Errors after which a pooled connection must not be reused. */
export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  return code === "" || code.startsWith("08") || code === "57P01";
}

/**
 * SQLSTATEs that say the database cannot serve now rather than that the
 * request is wrong: connection exceptions (08), operator intervention —
 * shutdown, restart, statement timeout (57), insufficient resources (53),
 * a lock wait that timed out (55P03), and a serialization failure or
 * deadlock still lost after the round's retries (40001, 40P01).
 */
function isUnavailable(error: unknown): boolean {
  const code = sqlState(error);
  if (code === "") return true; // no SQLSTATE: the connection failed (refused, reset, timed out, terminated)
  if (/^[0-9A-Z]{5}$/.test(code)) {
    return code.startsWith("08") || code.startsWith("57") || code.startsWith("53") || code === "55P03" || code === "40001" || code === "40P01";
  }
  return true; // a Node error code such as ECONNREFUSED or ETIMEDOUT
}

/**
 * A database failure as the client should see it: 503 with Retry-After when
 * the database is down, restarting, stalled past a timeout or overloaded
 * (the request may be retried; an append whose connection was lost during
 * COMMIT may have been applied, which an idempotent producer's retry
 * deduplicates), and the error unchanged otherwise (a 500).
 */
export function storeFailure(error: unknown): unknown {
  if (error instanceof ProtocolError || !isUnavailable(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ProtocolError("STORE_UNAVAILABLE", `the database is unavailable, try again: ${reason}`, { retryAfterSeconds: 1 });
}
