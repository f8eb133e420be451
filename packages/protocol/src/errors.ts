/**
 * The error answers of a Rill server, shared by both sides: every non-2xx
 * response carries a JSON body `{"error":{"code","message",…}}` whose code is
 * one of ERROR_CODES. Clients branch on the code; the message is for people.
 */

/** Every machine code a Rill server sends, grouped by what it is about. */
export const ERROR_CODES = [
  // the request itself
  "BAD_REQUEST",
  "INVALID_OFFSET",
  "INVALID_HEADER",
  "INVALID_JSON",
  "EMPTY_BODY",
  "PAYLOAD_TOO_LARGE",
  "METHOD_NOT_ALLOWED",
  "NOT_FOUND",
  // streams
  "STREAM_NOT_FOUND",
  "STREAM_GONE",
  "STREAM_EXISTS",
  "STREAM_CLOSED",
  "CONTENT_TYPE_MISMATCH",
  "SEQUENCE_CONFLICT",
  // idempotent producers
  "PRODUCER_SEQ_GAP",
  "PRODUCER_STALE_EPOCH",
  "PRODUCER_BAD_EPOCH_START",
  // forks
  "FORK_SOURCE_NOT_FOUND",
  "FORK_SOURCE_GONE",
  "FORK_OFFSET_OUT_OF_RANGE",
  // retention (docs/retention.md)
  "OFFSET_RETAINED",
  // access control (bearer tokens)
  "UNAUTHORIZED",
  "INVALID_TOKEN",
  "INSUFFICIENT_SCOPE",
  "KEYS_UNAVAILABLE",
  // limits (docs/security.md)
  "TOO_MANY_CONNECTIONS",
  "TOO_MANY_READERS",
  "TOO_MANY_STREAMS",
  "COMMIT_QUEUE_FULL",
  "REQUEST_TIMEOUT",
  "HEADERS_TOO_LARGE",
  // the server
  "SHUTTING_DOWN",
  "NOT_READY",
  "STORE_UNAVAILABLE",
  "INTERNAL",
  // subscriptions (the reserved __ds control API)
  "INVALID_REQUEST",
  "SUBSCRIPTION_NOT_FOUND",
  "SUBSCRIPTION_ALREADY_EXISTS",
  "WEBHOOK_URL_REJECTED",
  "TOKEN_INVALID",
  "FENCED",
  "ALREADY_CLAIMED",
  "NO_PENDING_WORK",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The body of every error response. Extra members carry codes' own details (e.g. `current_holder`). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; [detail: string]: unknown };
}

const KNOWN = new Set<string>(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && KNOWN.has(value);
}

/**
 * The error object of a response body in Rill's shape, or undefined when the
 * body is not one (another server, a proxy's HTML page, an empty body). The
 * code is returned as sent: a newer server may send codes this list lacks.
 */
export function parseErrorBody(text: string): { code: string; message: string; [detail: string]: unknown } | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (value as { error?: unknown } | null)?.error;
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== "string") return undefined;
  return { ...(error as Record<string, unknown>), code, message: typeof message === "string" ? message : "" };
}
