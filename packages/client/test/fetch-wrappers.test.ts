import { describe, expect, it } from "vitest";
import { DurableStreamError, FetchBackoffAbortError, FetchError, StreamClosedError } from "../src/errors.js";
import { RetrySchedule, backoffDelay, parseRetryAfter, sleep } from "../src/fetch/backoff.js";
import {
  NOT_APPLIED_ONLY,
  createFetchWithBackoff,
  createFetchWithConsumedBody,
  createFetchWithHttpErrors,
} from "../src/fetch/wrappers.js";

type Step = Response | Error;

/** A fake fetch that plays back a script and records what it was asked. */
function scripted(steps: Step[]) {
  const calls: Array<{ url: string; init?: RequestInit }> = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    const step = steps.shift();
    if (!step) throw new Error("script exhausted");
    if (step instanceof Error) throw step;
    return step;
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const fast = { initialDelay: 1, maxDelay: 2, multiplier: 2 };

describe("backoff timing", () => {
  it("uses full jitter under an exponential ceiling", () => {
    const options = { initialDelay: 100, maxDelay: 1000, multiplier: 2 };
    expect(backoffDelay(0, options, 0, () => 0.999)).toBe(99);
    expect(backoffDelay(3, options, 0, () => 0.5)).toBe(400);
    expect(backoffDelay(10, options, 0, () => 0.999)).toBe(999);
    expect(backoffDelay(10, options, 0, () => 0)).toBe(0);
  });

  it("never waits less than Retry-After", () => {
    expect(backoffDelay(0, { initialDelay: 100, maxDelay: 1000, multiplier: 2 }, 5000, () => 0.5)).toBe(5000);
  });

  it("parses Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBe(0);
  });

  it("aborts a sleep at once and clears its timer", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = sleep(60_000, controller.signal);
    controller.abort("stop");
    await expect(pending).rejects.toBeInstanceOf(FetchBackoffAbortError);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(sleep(10, AbortSignal.abort())).rejects.toMatchObject({ code: "ABORTED" });
  });
});

describe("RetrySchedule", () => {
  it("grows the delay per failure, is spent after maxRetries, and starts over after reset", () => {
    let reported = 0;
    const options = { initialDelay: 100, maxDelay: 1000, multiplier: 2, maxRetries: 2, onFailedAttempt: () => reported++ };
    const retries = new RetrySchedule(options, () => 0.999);
    expect(retries.spent).toBe(false);
    expect([retries.failed(), retries.failed()]).toEqual([99, 199]);
    expect(retries.spent).toBe(true);
    expect(reported).toBe(2);
    retries.reset();
    expect([retries.spent, retries.failures]).toEqual([false, 0]);
    expect(retries.failed(5000)).toBe(5000);
  });

  it("waits out a failure, or stops at once when the signal fires", async () => {
    const retries = new RetrySchedule({ initialDelay: 60_000, maxDelay: 60_000, multiplier: 1 }, () => 1);
    await expect(retries.wait(AbortSignal.abort("stop"))).rejects.toBeInstanceOf(FetchBackoffAbortError);
    await new RetrySchedule(fast).wait();
  });
});

describe("createFetchWithBackoff", () => {
  it("retries network errors, 5xx and 429, then returns the success", async () => {
    const { fetch, calls } = scripted([
      new TypeError("socket hang up"),
      new Response("busy", { status: 503 }),
      new Response("slow down", { status: 429 }),
      new Response("ok", { status: 200 }),
    ]);
    const response = await createFetchWithBackoff(fetch, fast)("http://x/s");
    expect(await response.text()).toBe("ok");
    expect(calls).toHaveLength(4);
  });

  it("does not retry 4xx", async () => {
    const { fetch, calls } = scripted([new Response("nope", { status: 404 })]);
    expect((await createFetchWithBackoff(fetch, fast)("http://x/s")).status).toBe(404);
    expect(calls).toHaveLength(1);
  });

  it("gives up after maxRetries and hands back the last answer", async () => {
    const { fetch, calls } = scripted([new Response("", { status: 500 }), new Response("", { status: 502 }), new Response("", { status: 504 })]);
    const response = await createFetchWithBackoff(fetch, { ...fast, maxRetries: 2 })("http://x/s");
    expect(response.status).toBe(504);
    expect(calls).toHaveLength(3);
    const failing = scripted([new TypeError("a"), new TypeError("b")]);
    await expect(createFetchWithBackoff(failing.fetch, { ...fast, maxRetries: 1 })("http://x/s")).rejects.toThrow("b");
  });

  it("honours Retry-After as the minimum wait", async () => {
    const { fetch } = scripted([new Response("", { status: 503, headers: { "retry-after": "0.2" } }), new Response("ok")]);
    const started = Date.now();
    await createFetchWithBackoff(fetch, fast)("http://x/s");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("with the not-applied-only policy, retries 503/429 but not network errors or 500", async () => {
    const network = scripted([new TypeError("reset")]);
    await expect(createFetchWithBackoff(network.fetch, fast, NOT_APPLIED_ONLY)("http://x/s", { method: "POST" })).rejects.toThrow("reset");
    const server = scripted([new Response("", { status: 500 })]);
    expect((await createFetchWithBackoff(server.fetch, fast, NOT_APPLIED_ONLY)("http://x/s")).status).toBe(500);
    const busy = scripted([new Response("", { status: 503 }), new Response(null, { status: 204 })]);
    expect((await createFetchWithBackoff(busy.fetch, fast, NOT_APPLIED_ONLY)("http://x/s")).status).toBe(204);
  });

  it("never replays a streamed body", async () => {
    const { fetch, calls } = scripted([new TypeError("reset"), new Response("ok")]);
    const body = new ReadableStream({ start: (c) => c.close() });
    await expect(createFetchWithBackoff(fetch, fast)("http://x/s", { method: "POST", body })).rejects.toThrow("reset");
    expect(calls).toHaveLength(1);
  });

  it("stops waiting when the request's signal aborts", async () => {
    const { fetch, calls } = scripted([new Response("", { status: 503, headers: { "retry-after": "60" } }), new Response("ok")]);
    const controller = new AbortController();
    const pending = createFetchWithBackoff(fetch, fast)("http://x/s", { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(FetchBackoffAbortError);
    expect(calls).toHaveLength(1);
  });

  it("calls onFailedAttempt before each retry", async () => {
    let failed = 0;
    const { fetch } = scripted([new TypeError("x"), new TypeError("y"), new Response("ok")]);
    await createFetchWithBackoff(fetch, { ...fast, onFailedAttempt: () => failed++ })("http://x/s");
    expect(failed).toBe(2);
  });
});

describe("createFetchWithConsumedBody", () => {
  it("returns the body already read, keeping status and headers", async () => {
    const { fetch } = scripted([new Response("hello", { status: 200, headers: { "stream-next-offset": "7" } })]);
    const response = await createFetchWithConsumedBody(fetch)("http://x/s");
    expect(response.headers.get("stream-next-offset")).toBe("7");
    expect(await response.text()).toBe("hello");
    const empty = await createFetchWithConsumedBody(scripted([new Response(null, { status: 204 })]).fetch)("http://x/s");
    expect(empty.status).toBe(204);
  });

  it("fails the fetch itself when the body breaks, so backoff retries it", async () => {
    let calls = 0;
    const fetch = (async () => {
      calls++;
      if (calls === 1) {
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("partial"));
            controller.error(new TypeError("terminated"));
          },
        });
        return new Response(body);
      }
      return new Response("complete");
    }) as typeof globalThis.fetch;
    const response = await createFetchWithBackoff(createFetchWithConsumedBody(fetch), fast)("http://x/s");
    expect(await response.text()).toBe("complete");
    expect(calls).toBe(2);
  });
});

describe("createFetchWithHttpErrors", () => {
  it("passes successes through", async () => {
    const response = await createFetchWithHttpErrors(scripted([new Response("ok")]).fetch)("http://x/s");
    expect(response.status).toBe(200);
  });

  it("throws a FetchError with status, headers and body", async () => {
    const { fetch } = scripted([new Response("gone fishing", { status: 401, headers: { "www-authenticate": "Bearer" } })]);
    const error = await createFetchWithHttpErrors(fetch)("http://x/s").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FetchError);
    expect(error).toBeInstanceOf(DurableStreamError);
    expect(error).toMatchObject({ status: 401, code: "UNAUTHORIZED", body: "gone fishing", url: "http://x/s" });
    expect((error as FetchError).headers["www-authenticate"]).toBe("Bearer");
  });

  it("maps a 409 with Stream-Closed to StreamClosedError", async () => {
    const { fetch } = scripted([
      new Response("closed", { status: 409, headers: { "stream-closed": "true", "stream-next-offset": "0_9" } }),
    ]);
    const error = await createFetchWithHttpErrors(fetch)("http://x/s", { method: "POST" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamClosedError);
    expect(error).toMatchObject({ code: "STREAM_CLOSED", finalOffset: "0_9" });
  });

  it("wraps network failures as NETWORK_ERROR and lets aborts through", async () => {
    const cause = new TypeError("fetch failed");
    const error = await createFetchWithHttpErrors(scripted([cause]).fetch)("http://x/s").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "NETWORK_ERROR", cause });
    const abort = new DOMException("aborted", "AbortError");
    await expect(createFetchWithHttpErrors(scripted([abort]).fetch)("http://x/s")).rejects.toBe(abort);
  });
});
