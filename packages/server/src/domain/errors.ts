import { formatOffset, HEADER } from "@rill/protocol";

/**
 * Protocol errors carry everything needed to render them: status, a stable
 * machine code, a human message and any protocol headers. The HTTP layer
 * renders every one of them in a single place.
 */
export type ErrorCode =
  | "BAD_REQUEST"
  | "INVALID_OFFSET"
  | "INVALID_HEADER"
  | "INVALID_JSON"
  | "EMPTY_BODY"
  | "STREAM_NOT_FOUND"
  | "STREAM_GONE"
  | "STREAM_EXISTS"
  | "STREAM_CLOSED"
  | "CONTENT_TYPE_MISMATCH"
  | "SEQUENCE_CONFLICT"
  | "PRODUCER_SEQ_GAP"
  | "PRODUCER_STALE_EPOCH"
  | "PRODUCER_BAD_EPOCH_START"
  | "FORK_SOURCE_NOT_FOUND"
  | "FORK_SOURCE_GONE"
  | "FORK_OFFSET_OUT_OF_RANGE"
  | "OFFSET_RETAINED"
  | "PAYLOAD_TOO_LARGE"
  | "METHOD_NOT_ALLOWED"
  | "NOT_FOUND"
  | "SHUTTING_DOWN"
  | "STORE_UNAVAILABLE"
  // Limits (docs/security.md)
  | "TOO_MANY_CONNECTIONS"
  | "TOO_MANY_READERS"
  | "TOO_MANY_STREAMS"
  | "COMMIT_QUEUE_FULL"
  | "REQUEST_TIMEOUT"
  | "HEADERS_TOO_LARGE"
  | "NOT_READY"
  | "INTERNAL"
  // Access control (RFC 6750 bearer tokens)
  | "UNAUTHORIZED"
  | "INVALID_TOKEN"
  | "INSUFFICIENT_SCOPE"
  | "KEYS_UNAVAILABLE"
  // Subscriptions (the reserved __ds control API)
  | "INVALID_REQUEST"
  | "SUBSCRIPTION_NOT_FOUND"
  | "SUBSCRIPTION_ALREADY_EXISTS"
  | "WEBHOOK_URL_REJECTED"
  | "TOKEN_INVALID"
  | "FENCED"
  | "ALREADY_CLAIMED"
  | "NO_PENDING_WORK";

export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Extra members of the JSON error object, e.g. `current_holder`. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code: ErrorCode = "BAD_REQUEST") =>
  new ProtocolError(400, code, message);

export const notFound = (path: string) =>
  new ProtocolError(404, "STREAM_NOT_FOUND", `stream not found: ${path}`);

export const gone = (path: string) =>
  new ProtocolError(410, "STREAM_GONE", `stream was deleted and is kept only for its forks: ${path}`);

/**
 * 410 for a position below the earliest retained one: the data there was
 * removed by retention. The response names where the retained data begins.
 */
export const offsetRetained = (earliest: number, what = "the offset") =>
  new ProtocolError(
    410,
    "OFFSET_RETAINED",
    `${what} is before the earliest retained offset ${formatOffset(earliest)}: that data was removed by the stream's retention policy`,
    { [HEADER.rillEarliestOffset]: formatOffset(earliest) },
    { earliest_offset: formatOffset(earliest) },
  );
