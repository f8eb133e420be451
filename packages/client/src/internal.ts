/**
 * What an IdempotentProducer needs from its DurableStream handle, reachable
 * through a symbol so it stays off the public surface.
 */
import type { FetchLike } from "./fetch/wrappers.js";

export const HANDLE = Symbol("@rill/client:handle");

export interface HandleAccess {
  /** The URL with the handle's params, and the handle's headers, resolved now. */
  target(): Promise<{ url: string; headers: Record<string, string> }>;
  fetch: FetchLike;
  /** The stream's content type, asking the server (HEAD) if it is not known yet. */
  contentType(): Promise<string>;
  /** The stream's tail offset now (HEAD), "" when it does not exist. */
  tailOffset(): Promise<string>;
  signal?: AbortSignal;
}

export function handleAccess(stream: object): HandleAccess {
  const access = (stream as { [HANDLE]?: HandleAccess })[HANDLE];
  if (!access) throw new TypeError("IdempotentProducer needs a DurableStream from this package");
  return access;
}
