import { describe, expect, it } from "vitest";
import {
  DurableStreamError,
  FetchError,
  SequenceGapError,
  StaleEpochError,
  StreamClosedError,
} from "../src/errors.js";
import { errorFromParts } from "../src/http-errors.js";

function fail(status: number, options: { method?: string; request?: Record<string, string>; response?: Record<string, string>; body?: string } = {}) {
  return errorFromParts(status, new Headers(options.response), options.body ?? "", {
    method: options.method ?? "POST",
    url: "http://x/v1/stream/s",
    headers: new Headers(options.request),
  });
}

describe("error mapping", () => {
  it("gives every 4xx a precise code", () => {
    const expected: Record<number, string> = {
      400: "BAD_REQUEST",
      401: "UNAUTHORIZED",
      403: "FORBIDDEN",
      404: "NOT_FOUND",
      405: "METHOD_NOT_ALLOWED",
      406: "NOT_ACCEPTABLE",
      408: "REQUEST_TIMEOUT",
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
      418: "CLIENT_ERROR",
      500: "SERVER_ERROR",
      503: "BUSY",
    };
    for (const [status, code] of Object.entries(expected)) {
      const error = fail(Number(status), { method: "GET" });
      expect(error.code, `status ${status}`).toBe(code);
      expect(error.status).toBe(Number(status));
    }
  });

  it("splits 409 by what the server said and what was asked", () => {
    expect(fail(409, { response: { "stream-closed": "true", "stream-next-offset": "0_5" } })).toBeInstanceOf(StreamClosedError);
    const gap = fail(409, {
      request: { "producer-id": "p", "producer-seq": "4" },
      response: { "producer-expected-seq": "2", "producer-received-seq": "4" },
    });
    expect(gap).toBeInstanceOf(SequenceGapError);
    expect(gap).toMatchObject({ code: "SEQUENCE_GAP", expectedSeq: 2, receivedSeq: 4 });
    expect(fail(409, { method: "PUT", body: "stream exists with content type text/plain" }).code).toBe("CONFLICT_EXISTS");
    expect(fail(409, { body: "Content-type mismatch" }).code).toBe("CONTENT_TYPE_MISMATCH");
    expect(
      fail(409, {
        request: { "stream-seq": "b" },
        response: { "content-type": "application/json" },
        body: JSON.stringify({ error: { code: "CONTENT_TYPE_MISMATCH", message: "no" } }),
      }).code,
    ).toBe("CONTENT_TYPE_MISMATCH");
    expect(fail(409, { request: { "stream-seq": "a" }, body: "Sequence conflict" }).code).toBe("CONFLICT_SEQ");
    expect(fail(409, { body: "something else" }).code).toBe("CONFLICT");
  });

  it("reads a stale epoch only from producer requests", () => {
    const stale = fail(403, { request: { "producer-id": "p" }, response: { "producer-epoch": "7" } });
    expect(stale).toBeInstanceOf(StaleEpochError);
    expect(stale).toMatchObject({ code: "STALE_EPOCH", currentEpoch: 7, status: 403 });
    expect(fail(403, { response: { "producer-epoch": "7" } }).code).toBe("FORBIDDEN");
  });

  it("maps a Rill server's code by table, and an unknown code by status", () => {
    const said = (code: string) => JSON.stringify({ error: { code, message: "m" } });
    const json = { "content-type": "application/json" };
    expect(fail(403, { method: "GET", response: json, body: said("INSUFFICIENT_SCOPE") }).code).toBe("FORBIDDEN");
    expect(fail(401, { method: "GET", response: json, body: said("INVALID_TOKEN") }).code).toBe("UNAUTHORIZED");
    expect(fail(503, { response: json, body: said("STORE_UNAVAILABLE") }).code).toBe("BUSY");
    expect(fail(429, { response: json, body: said("TOO_MANY_CONNECTIONS") }).code).toBe("RATE_LIMITED");
    expect(fail(503, { response: json, body: said("TOO_MANY_CONNECTIONS") }).code).toBe("BUSY");
    expect(fail(409, { method: "PUT", response: json, body: said("FORK_SOURCE_GONE") }).code).toBe("GONE");
    expect(fail(409, { method: "PUT", response: json, body: said("SOMETHING_NEWER") }).code).toBe("CONFLICT_EXISTS");
  });

  it("parses JSON error bodies", () => {
    const error = fail(400, { response: { "content-type": "application/json" }, body: '{"error":{"code":"INVALID_JSON"}}' });
    expect(error.json).toEqual({ error: { code: "INVALID_JSON" } });
    expect(error.details).toEqual({ error: { code: "INVALID_JSON" } });
    expect(fail(400, { body: "plain" }).text).toBe("plain");
  });
});

describe("error classes", () => {
  it("form one family", () => {
    const closed = new StreamClosedError("http://x", "0_1");
    expect(closed).toBeInstanceOf(StreamClosedError);
    expect(closed).toBeInstanceOf(FetchError);
    expect(closed).toBeInstanceOf(DurableStreamError);
    expect(closed).toBeInstanceOf(Error);
    expect(closed).not.toBeInstanceOf(StaleEpochError);
    expect(new DurableStreamError("x", "UNKNOWN")).not.toBeInstanceOf(FetchError);
    expect(closed.name).toBe("StreamClosedError");
  });

  it("are recognised across two copies of the module", async () => {
    // The query string makes the module loader evaluate a second, separate copy.
    // @ts-expect-error TypeScript cannot resolve a module specifier with a query
    const copy = (await import("../src/errors.js?second-copy")) as typeof import("../src/errors.js");
    expect(copy.DurableStreamError).not.toBe(DurableStreamError);
    const foreign = new copy.StaleEpochError(3);
    expect(foreign).toBeInstanceOf(StaleEpochError);
    expect(foreign).toBeInstanceOf(FetchError);
    expect(foreign).toBeInstanceOf(DurableStreamError);
    expect(foreign).not.toBeInstanceOf(SequenceGapError);
    expect(new SequenceGapError(1, 2)).toBeInstanceOf(copy.SequenceGapError);
    expect({}).not.toBeInstanceOf(DurableStreamError);
    expect(null).not.toBeInstanceOf(DurableStreamError);
  });

  it("keep ordinary instanceof for user subclasses", () => {
    class MyError extends DurableStreamError {}
    expect(new MyError("x", "UNKNOWN")).toBeInstanceOf(MyError);
    expect(new MyError("x", "UNKNOWN")).toBeInstanceOf(DurableStreamError);
    expect(new DurableStreamError("x", "UNKNOWN")).not.toBeInstanceOf(MyError);
  });
});
