/**
 * Turns a failed HTTP response into the precise error a caller branches on.
 * The status alone is not enough: a 409 is a closed stream, a producer gap,
 * an existing stream, a content-type mismatch or a Stream-Seq conflict. A
 * Rill server names the case in its error body (@rill/protocol ERROR_CODES),
 * which is read by table first; for other servers the case is inferred from
 * the request, the headers that came back and the wording of the message.
 */
import { HEADER, parseErrorBody, type ErrorCode } from "@rill/protocol";
import {
  FetchError,
  RetainedOffsetError,
  SequenceGapError,
  StaleEpochError,
  StreamClosedError,
  type DurableStreamErrorCode,
} from "./errors.js";

/** What the mapper needs to know about the request that failed. */
export interface FailedRequest {
  method: string;
  url: string;
  headers: Headers;
}

const BY_STATUS: Record<number, DurableStreamErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  406: "NOT_ACCEPTABLE",
  408: "REQUEST_TIMEOUT",
  409: "CONFLICT",
  410: "GONE",
  411: "LENGTH_REQUIRED",
  412: "PRECONDITION_FAILED",
  413: "PAYLOAD_TOO_LARGE",
  414: "URI_TOO_LONG",
  415: "UNSUPPORTED_MEDIA_TYPE",
  416: "RANGE_NOT_SATISFIABLE",
  422: "UNPROCESSABLE",
  429: "RATE_LIMITED",
  431: "HEADERS_TOO_LARGE",
  503: "BUSY",
};

function codeForStatus(status: number): DurableStreamErrorCode {
  const known = BY_STATUS[status];
  if (known) return known;
  if (status >= 400 && status < 500) return "CLIENT_ERROR";
  if (status >= 500) return "SERVER_ERROR";
  return "UNKNOWN";
}

/** Reads the body (if any) and builds the error. Never throws. */
export async function errorFromResponse(response: Response, request: FailedRequest): Promise<FetchError> {
  let body = "";
  if (request.method !== "HEAD" && response.body !== null && !response.bodyUsed) {
    try {
      body = await response.text();
    } catch {
      body = "";
    }
  }
  return errorFromParts(response.status, response.headers, body, request);
}

export function errorFromParts(status: number, responseHeaders: Headers, body: string, request: FailedRequest): FetchError {
  const headers: Record<string, string> = {};
  responseHeaders.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  const said = parseErrorBody(body)?.code;
  const code = (said !== undefined ? BY_SERVER_CODE[said] : undefined) ?? codeFromShape(status, headers, body, request);
  return buildError(code, status, headers, body, request);
}

/**
 * What a Rill server's machine code means to a caller. Codes missing here
 * (subscriptions, or codes newer than this client) fall back to the shape of
 * the response, as for any other server.
 */
const BY_SERVER_CODE: Partial<Record<string, DurableStreamErrorCode>> = {
  BAD_REQUEST: "BAD_REQUEST",
  INVALID_OFFSET: "BAD_REQUEST",
  INVALID_HEADER: "BAD_REQUEST",
  INVALID_JSON: "BAD_REQUEST",
  EMPTY_BODY: "BAD_REQUEST",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  NOT_FOUND: "NOT_FOUND",
  STREAM_NOT_FOUND: "NOT_FOUND",
  STREAM_GONE: "GONE",
  STREAM_EXISTS: "CONFLICT_EXISTS",
  STREAM_CLOSED: "STREAM_CLOSED",
  CONTENT_TYPE_MISMATCH: "CONTENT_TYPE_MISMATCH",
  SEQUENCE_CONFLICT: "CONFLICT_SEQ",
  PRODUCER_SEQ_GAP: "SEQUENCE_GAP",
  PRODUCER_STALE_EPOCH: "STALE_EPOCH",
  PRODUCER_BAD_EPOCH_START: "BAD_REQUEST",
  FORK_SOURCE_NOT_FOUND: "NOT_FOUND",
  FORK_SOURCE_GONE: "GONE",
  FORK_OFFSET_OUT_OF_RANGE: "BAD_REQUEST",
  OFFSET_RETAINED: "OFFSET_RETAINED",
  UNAUTHORIZED: "UNAUTHORIZED",
  INVALID_TOKEN: "UNAUTHORIZED",
  INSUFFICIENT_SCOPE: "FORBIDDEN",
  KEYS_UNAVAILABLE: "BUSY",
  // TOO_MANY_CONNECTIONS is a 503 for the server's limit and a 429 for an
  // address's: its status tells them apart, so it is not in this table.
  TOO_MANY_READERS: "BUSY",
  TOO_MANY_STREAMS: "BUSY",
  COMMIT_QUEUE_FULL: "BUSY",
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  HEADERS_TOO_LARGE: "HEADERS_TOO_LARGE",
  SHUTTING_DOWN: "BUSY",
  NOT_READY: "BUSY",
  STORE_UNAVAILABLE: "BUSY",
  INTERNAL: "SERVER_ERROR",
} satisfies Partial<Record<ErrorCode, DurableStreamErrorCode>>;

/**
 * The fallback for servers that send no Rill code: the status, split for
 * 409 and 403 by the protocol headers that came back and by what was asked.
 */
function codeFromShape(status: number, headers: Record<string, string>, body: string, request: FailedRequest): DurableStreamErrorCode {
  if (status === 409) {
    if (headers[HEADER.streamClosed]?.toLowerCase() === "true") return "STREAM_CLOSED";
    if (headers[HEADER.producerExpectedSeq] !== undefined) return "SEQUENCE_GAP";
    return classifyConflict(request, body);
  }
  if (status === 403 && request.headers.has(HEADER.producerId) && headers[HEADER.producerEpoch] !== undefined) return "STALE_EPOCH";
  if (status === 410 && headers[HEADER.rillEarliestOffset] !== undefined) return "OFFSET_RETAINED";
  return codeForStatus(status);
}

/** The error class for a code, with the fields its protocol headers carry. */
function buildError(code: DurableStreamErrorCode, status: number, headers: Record<string, string>, body: string, request: FailedRequest): FetchError {
  const parts = { body, headers };
  const url = request.url;
  if (code === "STREAM_CLOSED") return new StreamClosedError(url, headers[HEADER.streamNextOffset], parts);
  const expected = headers[HEADER.producerExpectedSeq];
  if (code === "SEQUENCE_GAP" && expected !== undefined) {
    const received = headers[HEADER.producerReceivedSeq] ?? request.headers.get(HEADER.producerSeq) ?? "-1";
    return new SequenceGapError(Number(expected), Number(received), url, parts);
  }
  const earliest = headers[HEADER.rillEarliestOffset];
  if (code === "OFFSET_RETAINED" && earliest !== undefined) return new RetainedOffsetError(earliest, url, parts);
  const epoch = headers[HEADER.producerEpoch];
  if (code === "STALE_EPOCH" && epoch !== undefined) return new StaleEpochError(Number(epoch), url, parts);
  return new FetchError(status, body, headers, url, code);
}

/**
 * A 409 that is neither a closed stream nor a producer gap. On PUT it means
 * the stream exists with another configuration. On POST a machine code in a
 * JSON body wins, then the wording of the message, then whether the request
 * carried Stream-Seq.
 */
function classifyConflict(request: FailedRequest, body: string): DurableStreamErrorCode {
  if (request.method === "PUT") return "CONFLICT_EXISTS";
  const said = machineCode(body) ?? body;
  if (/content[-_ ]?type/i.test(said)) return "CONTENT_TYPE_MISMATCH";
  if (/seq/i.test(said) || request.headers.has(HEADER.streamSeq)) return "CONFLICT_SEQ";
  return "CONFLICT";
}

/** A code in another server's JSON body: `{"error":{"code"}}` or a top-level `{"code"}`. */
function machineCode(body: string): string | undefined {
  const nested = parseErrorBody(body)?.code;
  if (nested !== undefined) return nested;
  if (!body.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(body) as { code?: unknown };
    if (typeof value.code === "string") return value.code;
  } catch {
    // not JSON after all
  }
  return undefined;
}
