import type { IncomingMessage } from "node:http";

/**
 * Every Cache-Control decision of the stream API, in one place.
 *
 * A read answer says what it is and gets its directive from the table; then,
 * when `send()` writes any response, a request that was allowed on the
 * strength of a token turns it into its private form, so a shared cache never
 * hands one reader's authorized answer to another.
 */
export type ReadAnswer =
  /** HEAD: the stream's state now. */
  | "metadata"
  /** `offset=now` without `live`: only where the tail is now. */
  | "tail-offset"
  /** A catch-up range that stops short of the tail: its bytes never change (append-only). */
  | "catch-up-range"
  /** A catch-up range that reaches the tail: the next append changes it, so revalidate (ETag). */
  | "catch-up-tail"
  /** A long-poll that returns data (Stream-Cursor keeps CDN collapsing from looping). */
  | "long-poll-data"
  /** A long-poll that timed out (204), or found the stream closed and fully read. */
  | "long-poll-empty"
  /** The SSE response: one live body, never replayed from a cache. */
  | "sse"
  /** Any error answer. */
  | "error";

const DIRECTIVES: Readonly<Record<ReadAnswer, string>> = Object.freeze({
  "metadata": "no-store",
  "tail-offset": "no-store",
  "catch-up-range": "public, max-age=60, stale-while-revalidate=300",
  "catch-up-tail": "no-cache",
  "long-poll-data": "no-cache",
  "long-poll-empty": "no-store",
  "sse": "no-cache",
  "error": "no-store",
});

/** The Cache-Control of a read answer (before the private rule, which `send()` applies). */
export function cacheControl(answer: ReadAnswer): string {
  return DIRECTIVES[answer];
}

/** Requests answered on the strength of a token: their responses must not be stored by shared caches. */
const privateRequests = new WeakSet<IncomingMessage>();

/** Called by authorization when a token allowed what anyone without one could not have done. */
export function markPrivate(req: IncomingMessage): void {
  privateRequests.add(req);
}

/** Turns any caching directive into its private form (`public` → `private`; `no-cache` → `private, no-cache`). */
function privateForm(value: string | number | undefined): string {
  const directives = String(value ?? "")
    .split(",")
    .map((directive) => directive.trim())
    .filter((directive) => directive !== "" && directive.toLowerCase() !== "public" && directive.toLowerCase() !== "private");
  return ["private", ...directives].join(", ");
}

/** Applies the private rule to a response's headers, in place, as it is written to `req`. */
export function applyPrivateRule(req: IncomingMessage, headers: Record<string, string | number>): void {
  if (privateRequests.has(req)) headers["cache-control"] = privateForm(headers["cache-control"]);
}
