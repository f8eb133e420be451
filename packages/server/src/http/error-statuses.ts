import { formatOffset, HEADER, type ErrorCode } from "@rill/protocol";
import type { ProtocolError } from "../domain/errors.js";

/**
 * The HTTP status of every error code: the one place a failure becomes a
 * status. Keyed by the protocol's code list, so a code added there does not
 * compile until it has a status here.
 */
const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_OFFSET: 400,
  INVALID_HEADER: 400,
  INVALID_JSON: 400,
  EMPTY_BODY: 400,
  PAYLOAD_TOO_LARGE: 413,
  METHOD_NOT_ALLOWED: 405,
  NOT_FOUND: 404,
  STREAM_NOT_FOUND: 404,
  STREAM_GONE: 410,
  STREAM_EXISTS: 409,
  STREAM_CLOSED: 409,
  CONTENT_TYPE_MISMATCH: 409,
  SEQUENCE_CONFLICT: 409,
  PRODUCER_SEQ_GAP: 409,
  PRODUCER_STALE_EPOCH: 403,
  PRODUCER_BAD_EPOCH_START: 400,
  FORK_SOURCE_NOT_FOUND: 404,
  FORK_SOURCE_GONE: 409,
  FORK_OFFSET_OUT_OF_RANGE: 400,
  OFFSET_RETAINED: 410,
  UNAUTHORIZED: 401,
  INVALID_TOKEN: 401,
  INSUFFICIENT_SCOPE: 403,
  KEYS_UNAVAILABLE: 503,
  // connection-guard.ts answers per-address refusals itself, with 429, before any request is parsed
  TOO_MANY_CONNECTIONS: 503,
  TOO_MANY_READERS: 503,
  TOO_MANY_STREAMS: 503,
  COMMIT_QUEUE_FULL: 503,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  SHUTTING_DOWN: 503,
  NOT_READY: 503,
  STORE_UNAVAILABLE: 503,
  INTERNAL: 500,
  INVALID_REQUEST: 400,
  SUBSCRIPTION_NOT_FOUND: 404,
  SUBSCRIPTION_ALREADY_EXISTS: 409,
  WEBHOOK_URL_REJECTED: 400,
  TOKEN_INVALID: 401,
  FENCED: 409,
  ALREADY_CLAIMED: 409,
  NO_PENDING_WORK: 409,
};

export function errorStatus(error: ProtocolError): number {
  // An acknowledgement past a subscription's cursor or tail is a conflict with its state (docs/subscriptions.md).
  if (error.code === "INVALID_OFFSET" && error.facts.cursorConflict === true) return 409;
  return STATUS[error.code];
}

/** The protocol headers that carry an error's facts. */
export function errorHeaders(error: ProtocolError): Record<string, string> {
  const { facts } = error;
  const headers: Record<string, string> = {};
  if (facts.closed === true) headers[HEADER.streamClosed] = "true";
  if (facts.tail !== undefined) headers[HEADER.streamNextOffset] = formatOffset(facts.tail);
  if (facts.expectedSeq !== undefined) headers[HEADER.producerExpectedSeq] = String(facts.expectedSeq);
  if (facts.receivedSeq !== undefined) headers[HEADER.producerReceivedSeq] = String(facts.receivedSeq);
  if (facts.currentEpoch !== undefined) headers[HEADER.producerEpoch] = String(facts.currentEpoch);
  if (facts.earliestOffset !== undefined) headers[HEADER.rillEarliestOffset] = formatOffset(facts.earliestOffset);
  if (facts.retryAfterSeconds !== undefined) headers["retry-after"] = String(facts.retryAfterSeconds);
  if (facts.allowedMethods !== undefined) headers.allow = facts.allowedMethods;
  if (facts.challenge !== undefined) headers["www-authenticate"] = facts.challenge;
  if (facts.closeConnection === true) headers.connection = "close";
  return headers;
}
