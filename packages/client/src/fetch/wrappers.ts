/**
 * Fetch behaviour is built from wrappers: each takes a fetch and returns a
 * fetch, so each can be tested alone with a fake and the layers compose:
 *
 *     withHttpErrors(withBackoff(withConsumedBody(fetch)))
 *
 * - withConsumedBody: reads the whole body before returning, so a connection
 *   that dies mid-body fails the fetch (and gets retried) instead of failing
 *   later in the consumer.
 * - withBackoff: retries what a policy says is safe to retry.
 * - withHttpErrors: throws the precise DurableStreamError for non-2xx
 *   responses and wraps transport failures as NETWORK_ERROR.
 */
import { HEADER } from "@rill/protocol";
import { isAbortError, networkError } from "../errors.js";
import { errorFromResponse } from "../http-errors.js";
import { RetrySchedule, parseRetryAfter, resolveBackoff, sleep, type BackoffOptions } from "./backoff.js";

export type FetchLike = typeof globalThis.fetch;

/** Which failures a request may be retried after. */
export interface RetryPolicy {
  /** Retry when fetch itself throws (the request may or may not have arrived). */
  networkErrors: boolean;
  /** Retry responses with this status. */
  status: (status: number) => boolean;
}

/** For reads and other requests that are safe to repeat. */
export const IDEMPOTENT: RetryPolicy = {
  networkErrors: true,
  status: (status) => status === 429 || status >= 500,
};

/**
 * For requests that must not be applied twice (a plain append): only retry
 * answers that say the request was turned away before it was processed.
 */
export const NOT_APPLIED_ONLY: RetryPolicy = {
  networkErrors: false,
  status: (status) => status === 429 || status === 503,
};

function requestUrl(input: RequestInfo | URL): string {
  if (typeof input === "string") return input;
  if (input instanceof URL) return input.toString();
  return input.url;
}

function requestMethod(input: RequestInfo | URL, init?: RequestInit): string {
  return (init?.method ?? (typeof input === "object" && "method" in input ? input.method : "GET")).toUpperCase();
}

/** True when the body can be sent again (streams are consumed by sending). */
function replayable(init?: RequestInit): boolean {
  const body = init?.body;
  return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
}

export function createFetchWithBackoff(
  fetchImpl: FetchLike,
  backoffOptions?: Partial<BackoffOptions>,
  policy: RetryPolicy = IDEMPOTENT,
  random: () => number = Math.random,
): FetchLike {
  const options = resolveBackoff(backoffOptions);
  return async (input, init) => {
    const canRetry = replayable(init);
    const retries = new RetrySchedule(options, random);
    for (;;) {
      const lastChance = !canRetry || retries.spent;
      let response: Response;
      try {
        response = await fetchImpl(input, init);
      } catch (error) {
        if (lastChance || !policy.networkErrors || isAbortError(error) || init?.signal?.aborted) throw error;
        await wait(0, error);
        continue;
      }
      if (response.ok || lastChance || !policy.status(response.status)) return response;
      const retryAfter = parseRetryAfter(response.headers.get(HEADER.retryAfter));
      await response.body?.cancel().catch(() => undefined);
      await wait(retryAfter, response.status);
    }

    async function wait(retryAfter: number, reason: unknown): Promise<void> {
      const delay = retries.failed(retryAfter);
      if (options.debug) console.debug(`[rill] retry ${retries.failures} of ${requestUrl(input)} in ${delay}ms (${String(reason)})`);
      await sleep(delay, init?.signal ?? undefined);
    }
  };
}

/** Returns responses whose body has already been read into memory. */
export function createFetchWithConsumedBody(fetchImpl: FetchLike): FetchLike {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (response.status < 200 || response.body === null) return response;
    const bytes = await response.arrayBuffer();
    const empty = response.status === 204 || response.status === 205 || response.status === 304;
    return new Response(empty ? null : bytes, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/**
 * Throws a DurableStreamError for every non-2xx response, and turns thrown
 * transport errors into NETWORK_ERROR (aborts pass through untouched).
 */
export function createFetchWithHttpErrors(fetchImpl: FetchLike): FetchLike {
  return async (input, init) => {
    const url = requestUrl(input);
    let response: Response;
    try {
      response = await fetchImpl(input, init);
    } catch (error) {
      if (isAbortError(error) || init?.signal?.aborted) throw error;
      throw networkError(url, error);
    }
    if (response.ok) return response;
    throw await errorFromResponse(response, {
      method: requestMethod(input, init),
      url,
      headers: new Headers(init?.headers),
    });
  };
}

/** The default fetch, looked up at call time so test doubles installed later apply. */
export const globalFetch: FetchLike = (input, init) => globalThis.fetch(input, init);
