/**
 * One producer POST and what its answer means for the pipeline. Never
 * throws: every result, including transport failures, is an Outcome.
 */
import { HEADER } from "@rill/protocol";
import { DurableStreamError, SequenceGapError, StaleEpochError, isAbortError, networkError } from "../errors.js";
import { parseRetryAfter } from "../fetch/backoff.js";
import { IDEMPOTENT, type FetchLike } from "../fetch/wrappers.js";
import { errorFromResponse } from "../http-errors.js";
import type { HandleAccess } from "../internal.js";
import { resolveHeaders } from "../request.js";
import type { HeadersRecord } from "../types.js";

export type Outcome =
  /** Applied now (200) or earlier (204 duplicate). */
  | { kind: "ok"; offset: string | undefined; duplicate: boolean }
  /** The server is waiting for an earlier sequence number. */
  | { kind: "gap"; expected: number; error: SequenceGapError }
  /** Another session of this producer id holds a newer epoch. */
  | { kind: "stale"; currentEpoch: number; error: StaleEpochError }
  /** Worth sending again unchanged (network error, 5xx, 429). */
  | { kind: "retry"; error: Error; retryAfterMs: number }
  /** Sending again would not help. */
  | { kind: "fatal"; error: Error };

export interface ProducerRequest {
  producerId: string;
  epoch: number;
  seq: number;
  contentType: string;
  body?: Uint8Array | string;
  close?: boolean;
}

export interface RequestContext {
  access: HandleAccess;
  fetch: FetchLike;
  headers?: HeadersRecord;
  signal: AbortSignal;
}

export async function sendProducerRequest(context: RequestContext, request: ProducerRequest): Promise<Outcome> {
  let url = "";
  let headers: Record<string, string>;
  try {
    const target = await context.access.target();
    url = target.url;
    headers = { ...target.headers, ...(await resolveHeaders(context.headers)) };
  } catch (error) {
    return { kind: "fatal", error: error instanceof Error ? error : new Error(String(error)) };
  }
  headers[HEADER.contentType] = request.contentType;
  headers[HEADER.producerId] = request.producerId;
  headers[HEADER.producerEpoch] = String(request.epoch);
  headers[HEADER.producerSeq] = String(request.seq);
  if (request.close) headers[HEADER.streamClosed] = "true";

  let response: Response;
  try {
    response = await context.fetch(url, {
      method: "POST",
      headers,
      body: request.body as BodyInit | undefined,
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted || isAbortError(error)) {
      return { kind: "fatal", error: new DurableStreamError("Producer aborted", "ABORTED", undefined, undefined, { cause: error }) };
    }
    return { kind: "retry", error: networkError(url, error), retryAfterMs: 0 };
  }

  if (response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: "ok", offset: response.headers.get(HEADER.streamNextOffset) ?? undefined, duplicate: response.status === 204 };
  }
  const error = await errorFromResponse(response, { method: "POST", url, headers: new Headers(headers) });
  if (error instanceof StaleEpochError) return { kind: "stale", currentEpoch: error.currentEpoch, error };
  if (error instanceof SequenceGapError) return { kind: "gap", expected: error.expectedSeq, error };
  // A repeat of the same stamp is harmless, so whatever an idempotent request may retry, this may too.
  if (IDEMPOTENT.status(response.status)) {
    return { kind: "retry", error, retryAfterMs: parseRetryAfter(response.headers.get(HEADER.retryAfter)) };
  }
  return { kind: "fatal", error };
}
