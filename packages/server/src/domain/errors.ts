import { formatOffset, type ErrorCode } from "@rill/protocol";

export type { ErrorCode } from "@rill/protocol";

/**
 * What a failure knows beyond its code, in the stream's own terms. The HTTP
 * layer turns these into the status and protocol headers of the answer
 * (http/error-statuses.ts), so nothing here names a status or a header.
 */
export interface ErrorFacts {
  /** The stream's tail when the failure was decided (STREAM_CLOSED: where it ended). */
  tail?: number;
  /** The stream is closed (STREAM_CLOSED). */
  closed?: boolean;
  /** PRODUCER_SEQ_GAP: the seq the stream expected from the producer, and the one it sent. */
  expectedSeq?: number;
  receivedSeq?: number;
  /** PRODUCER_STALE_EPOCH: the producer's current epoch. */
  currentEpoch?: number;
  /** OFFSET_RETAINED: the earliest position the stream still holds. */
  earliestOffset?: number;
  /** A refusal that passes: seconds the client should wait before trying again. */
  retryAfterSeconds?: number;
  /** METHOD_NOT_ALLOWED: the methods the resource does answer, e.g. "GET, HEAD". */
  allowedMethods?: string;
  /** UNAUTHORIZED, INVALID_TOKEN, INSUFFICIENT_SCOPE, TOKEN_INVALID: the bearer challenge (RFC 6750) to answer with. */
  challenge?: string;
  /** The connection cannot carry another request (a stalled body was cut off mid-way). */
  closeConnection?: boolean;
  /** INVALID_OFFSET of an acknowledgement: it conflicts with a subscription's cursor rather than being malformed. */
  cursorConflict?: boolean;
}

/**
 * The one error every layer throws for a failure the client caused or may
 * retry: a stable machine code (@rill/protocol ERROR_CODES), a message for
 * people, typed facts, and `details`: extra members of the JSON error object
 * (e.g. `current_holder`).
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly facts: ErrorFacts = {},
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code: ErrorCode = "BAD_REQUEST") => new ProtocolError(code, message);

export const streamNotFound = (path: string) => new ProtocolError("STREAM_NOT_FOUND", `stream not found: ${path}`);

export const gone = (path: string) =>
  new ProtocolError("STREAM_GONE", `stream was deleted and is kept only for its forks: ${path}`);

/**
 * A position below the earliest retained one: the data there was removed by
 * retention. The answer names where the retained data begins.
 */
export const offsetRetained = (earliest: number, what = "the offset") =>
  new ProtocolError(
    "OFFSET_RETAINED",
    `${what} is before the earliest retained offset ${formatOffset(earliest)}: that data was removed by the stream's retention policy`,
    { earliestOffset: earliest },
    { earliest_offset: formatOffset(earliest) },
  );
