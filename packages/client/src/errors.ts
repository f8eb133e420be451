/**
 * One error family. Every error the client raises is a DurableStreamError
 * with a stable `code`; HTTP failures are FetchErrors (status, headers,
 * body), and the protocol conditions a caller branches on have their own
 * subclasses with the fields that matter.
 *
 * `instanceof` works across duplicate copies of this package (two bundles,
 * two versions in node_modules): each class is branded with a global symbol
 * and checks the brand, not the prototype chain.
 */

export type DurableStreamErrorCode =
  // 4xx, one code per status (409 and 403 are split by what the server said)
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "STALE_EPOCH"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "NOT_ACCEPTABLE"
  | "REQUEST_TIMEOUT"
  | "CONFLICT"
  | "CONFLICT_EXISTS"
  | "CONFLICT_SEQ"
  | "CONTENT_TYPE_MISMATCH"
  | "SEQUENCE_GAP"
  | "STREAM_CLOSED"
  | "GONE"
  | "OFFSET_RETAINED"
  | "LENGTH_REQUIRED"
  | "PRECONDITION_FAILED"
  | "PAYLOAD_TOO_LARGE"
  | "URI_TOO_LONG"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RANGE_NOT_SATISFIABLE"
  | "UNPROCESSABLE"
  | "RATE_LIMITED"
  | "HEADERS_TOO_LARGE"
  | "CLIENT_ERROR"
  // 5xx and transport
  | "BUSY"
  | "SERVER_ERROR"
  | "NETWORK_ERROR"
  // raised by the client itself
  | "ABORTED"
  | "ALREADY_CONSUMED"
  | "ALREADY_CLOSED"
  | "PARSE_ERROR"
  | "SSE_NOT_SUPPORTED"
  | "UNKNOWN";

const BRANDS = Symbol.for("@rill/client:error-brands");

type Branded = { [BRANDS]?: readonly string[] };

function hasBrand(value: unknown, brand: string): boolean {
  if (typeof value !== "object" || value === null) return false;
  const brands = (value as Branded)[BRANDS];
  return Array.isArray(brands) && brands.includes(brand);
}

export class DurableStreamError extends Error {
  /** The brand a class checks in `instanceof`; every subclass declares its own. */
  static readonly brand: string = "DurableStreamError";

  static override [Symbol.hasInstance](value: unknown): boolean {
    // A user subclass without its own brand gets ordinary prototype checks.
    if (!Object.prototype.hasOwnProperty.call(this, "brand")) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    return hasBrand(value, (this as unknown as { brand: string }).brand);
  }

  code: DurableStreamErrorCode;
  status?: number;
  /** The response body or other context, when there is one. */
  details?: unknown;

  constructor(message: string, code: DurableStreamErrorCode, status?: number, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
    const brands: string[] = [];
    for (let ctor: unknown = new.target; typeof ctor === "function"; ctor = Object.getPrototypeOf(ctor)) {
      if (Object.prototype.hasOwnProperty.call(ctor, "brand")) brands.push((ctor as unknown as { brand: string }).brand);
    }
    Object.defineProperty(this, BRANDS, { value: Object.freeze(brands), enumerable: false });
  }
}

/** An HTTP response that was not a success. */
export class FetchError extends DurableStreamError {
  static override readonly brand: string = "FetchError";

  declare status: number;
  /** Response headers, lower-cased names. */
  headers: Record<string, string>;
  /** The response body as text ("" when empty). */
  body: string;
  /** The body as text, when it was not JSON. */
  text?: string;
  /** The body parsed, when it was JSON. */
  json?: object;
  url: string;

  constructor(
    status: number,
    body: string,
    headers: Record<string, string>,
    url: string,
    code: DurableStreamErrorCode,
    message?: string,
  ) {
    const json = parseJsonObject(body, headers["content-type"]);
    super(message ?? `HTTP ${status} at ${url}${body ? `: ${body.slice(0, 200)}` : ""}`, code, status, json ?? (body || undefined));
    this.headers = headers;
    this.body = body;
    this.url = url;
    if (json) this.json = json;
    else this.text = body;
  }
}

/** An append or close hit a stream that is already closed. */
export class StreamClosedError extends FetchError {
  static override readonly brand: string = "StreamClosedError";
  declare code: "STREAM_CLOSED";
  readonly streamClosed = true;
  /** The closed stream's final offset, when the server reported it. */
  readonly finalOffset?: string;

  constructor(url: string, finalOffset?: string, response?: { body: string; headers: Record<string, string> }) {
    super(409, response?.body ?? "", response?.headers ?? {}, url, "STREAM_CLOSED", `Stream is closed: ${url}`);
    this.finalOffset = finalOffset;
  }
}

/** Another producer holds a newer epoch: this one is fenced off. */
export class StaleEpochError extends FetchError {
  static override readonly brand: string = "StaleEpochError";
  declare code: "STALE_EPOCH";
  /** The epoch the server holds for this producer id. */
  readonly currentEpoch: number;

  constructor(currentEpoch: number, url = "", response?: { body: string; headers: Record<string, string> }) {
    super(403, response?.body ?? "", response?.headers ?? {}, url, "STALE_EPOCH", `Producer epoch is stale; the server holds epoch ${currentEpoch}`);
    this.currentEpoch = currentEpoch;
  }
}

/** The server expected a different producer sequence number. */
export class SequenceGapError extends FetchError {
  static override readonly brand: string = "SequenceGapError";
  declare code: "SEQUENCE_GAP";
  readonly expectedSeq: number;
  readonly receivedSeq: number;

  constructor(expectedSeq: number, receivedSeq: number, url = "", response?: { body: string; headers: Record<string, string> }) {
    super(409, response?.body ?? "", response?.headers ?? {}, url, "SEQUENCE_GAP", `Producer sequence gap: expected ${expectedSeq}, received ${receivedSeq}`);
    this.expectedSeq = expectedSeq;
    this.receivedSeq = receivedSeq;
  }
}

/**
 * A read asked for data the server no longer keeps: retention removed
 * everything before `earliestOffset` (Rill's `Rill-Earliest-Offset`). Resume
 * there to accept the gap, or read with `onRetained: "skip-to-earliest"`.
 */
export class RetainedOffsetError extends FetchError {
  static override readonly brand: string = "RetainedOffsetError";
  declare code: "OFFSET_RETAINED";
  readonly earliestOffset: string;

  constructor(earliestOffset: string, url: string, response?: { body: string; headers: Record<string, string> }) {
    super(410, response?.body ?? "", response?.headers ?? {}, url, "OFFSET_RETAINED", `Offset is before the earliest retained offset ${earliestOffset} at ${url}`);
    this.earliestOffset = earliestOffset;
  }
}

/** A fetch was abandoned because its signal fired while waiting to retry. */
export class FetchBackoffAbortError extends DurableStreamError {
  static override readonly brand: string = "FetchBackoffAbortError";
  constructor(cause?: unknown) {
    super("Fetch with backoff aborted", "ABORTED", undefined, undefined, { cause });
  }
}

export class MissingStreamUrlError extends DurableStreamError {
  static override readonly brand: string = "MissingStreamUrlError";
  constructor() {
    super("Invalid stream options: missing required url", "BAD_REQUEST");
  }
}

export class InvalidSignalError extends DurableStreamError {
  static override readonly brand: string = "InvalidSignalError";
  constructor() {
    super("Invalid signal option: it must be an AbortSignal", "BAD_REQUEST");
  }
}

function parseJsonObject(body: string, contentType: string | undefined): object | undefined {
  if (!body || !contentType || !/json/i.test(contentType)) return undefined;
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Wraps a thrown transport failure (fetch's TypeError and friends). */
export function networkError(url: string, cause: unknown): DurableStreamError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new DurableStreamError(`Network error at ${url}: ${detail}`, "NETWORK_ERROR", undefined, undefined, { cause });
}

/** True for the errors fetch raises when its signal aborts. */
export function isAbortError(error: unknown): boolean {
  if (error instanceof DurableStreamError) return error.code === "ABORTED";
  return typeof error === "object" && error !== null && (error as { name?: string }).name === "AbortError";
}
