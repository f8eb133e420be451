/** Per-request resolution of dynamic headers and params, and URL building. */
import type { HeadersRecord, ParamsRecord } from "./types.js";

export async function resolveHeaders(headers: HeadersRecord | undefined): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    out[name] = typeof value === "function" ? await value() : value;
  }
  return out;
}

export async function resolveParams(params: ParamsRecord | undefined): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!params) return out;
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    out[name] = typeof value === "function" ? await value() : value;
  }
  return out;
}

/**
 * The stream URL with user params first and protocol params last, so a user
 * param can never override `offset`, `live` or `cursor`.
 */
export function buildUrl(base: string, userParams: Record<string, string>, protocolParams: Record<string, string | undefined> = {}): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(userParams)) url.searchParams.set(name, value);
  for (const [name, value] of Object.entries(protocolParams)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.toString();
}

/** An AbortSignal that fires when any input fires (AbortSignal.any is not everywhere yet). */
export function anySignal(signals: Array<AbortSignal | undefined>): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => signal.removeEventListener("abort", onAbort));
  }
  return { signal: controller.signal, dispose: () => cleanups.forEach((cleanup) => cleanup()) };
}
