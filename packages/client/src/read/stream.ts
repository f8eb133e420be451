/**
 * stream(): the fetch-like read API. It resolves once the first catch-up
 * response has arrived (so a missing stream or a refused token rejects here,
 * after onError had its say) and returns a StreamResponse to consume.
 */
import { OFFSET_BEGINNING } from "@rill/protocol";
import { DurableStreamError, InvalidSignalError, MissingStreamUrlError, isAbortError } from "../errors.js";
import { resolveBackoff } from "../fetch/backoff.js";
import { globalFetch } from "../fetch/wrappers.js";
import { absoluteUrl, warnIfPlainHttpInBrowser } from "../environment.js";
import type { StreamOptions, StreamResponse } from "../types.js";
import { StreamResponseImpl } from "./response.js";
import { ReadSession } from "./session.js";

export async function stream<TJson = unknown>(options: StreamOptions): Promise<StreamResponse<TJson>> {
  if (!options?.url) throw new MissingStreamUrlError();
  const userSignal = options.signal;
  if (userSignal !== undefined && !isSignal(userSignal)) throw new InvalidSignalError();
  if (userSignal?.aborted) throw aborted(userSignal.reason);

  const url = absoluteUrl(options.url);
  warnIfPlainHttpInBrowser(url, options.warnOnHttp);
  const startOffset = options.offset ?? OFFSET_BEGINNING;
  const live = options.live ?? "auto";
  const controller = new AbortController();

  let response: StreamResponseImpl<TJson> | undefined;
  const onAbort = () => (response ? response.cancel(userSignal?.reason) : controller.abort(userSignal?.reason));
  userSignal?.addEventListener("abort", onAbort, { once: true });
  const dispose = () => userSignal?.removeEventListener("abort", onAbort);

  let session: ReadSession;
  try {
    session = await ReadSession.open({
      url,
      headers: options.headers,
      params: options.params,
      fetch: options.fetch ?? globalFetch,
      backoff: resolveBackoff(options.backoffOptions),
      onError: options.onError,
      onRetained: options.onRetained ?? "error",
      live,
      jsonHint: options.json === true,
      offset: startOffset,
      signal: controller.signal,
      sseResilience: options.sseResilience,
    });
  } catch (error) {
    dispose();
    if (controller.signal.aborted && isAbortError(error)) throw aborted(controller.signal.reason);
    throw error;
  }
  response = new StreamResponseImpl<TJson>({ url, live, startOffset, session, controller, dispose });
  return response;
}

function isSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as AbortSignal).aborted === "boolean" &&
    typeof (value as AbortSignal).addEventListener === "function"
  );
}

function aborted(reason: unknown): DurableStreamError {
  return new DurableStreamError("Stream request was aborted", "ABORTED", undefined, undefined, { cause: reason });
}
