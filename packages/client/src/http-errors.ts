/**
 * Turns a failed HTTP response into the precise error a caller branches on.
 * The status alone is not enough: a 409 is a closed stream, a producer gap,
 * an existing stream, a content-type mismatch or a Stream-Seq conflict
 * depending on the request and the headers that came back.
 */
import { HEADER } from "@rill/protocol";
import {
  FetchError,
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

export function codeForStatus(status: number): DurableStreamErrorCode {
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
  const parts = { body, headers };
  const url = request.url;

  if (status === 409) {
    if (headers[HEADER.streamClosed]?.toLowerCase() === "true") {
      return new StreamClosedError(url, headers[HEADER.streamNextOffset], parts);
    }
    const expected = headers[HEADER.producerExpectedSeq];
    if (expected !== undefined) {
      const received = headers[HEADER.producerReceivedSeq] ?? request.headers.get(HEADER.producerSeq) ?? "-1";
      return new SequenceGapError(Number(expected), Number(received), url, parts);
    }
    return new FetchError(status, body, headers, url, classifyConflict(request, body));
  }
  if (status === 403 && request.headers.has(HEADER.producerId) && headers[HEADER.producerEpoch] !== undefined) {
    return new StaleEpochError(Number(headers[HEADER.producerEpoch]), url, parts);
  }
  return new FetchError(status, body, headers, url, codeForStatus(status));
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

function machineCode(body: string): string | undefined {
  if (!body.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(body) as { code?: unknown; error?: { code?: unknown } | string };
    if (typeof value.code === "string") return value.code;
    if (typeof value.error === "object" && value.error && typeof value.error.code === "string") return value.error.code;
  } catch {
    // not JSON after all
  }
  return undefined;
}
