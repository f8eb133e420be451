/**
 * Server-generated cursors for CDN request collapsing (long-poll and SSE).
 *
 * Time is cut into fixed intervals counted from a fixed epoch; the cursor is
 * the current interval number. A client echoes the last cursor it saw. If that
 * echo is already at (or ahead of) the current interval, the server answers
 * with a strictly larger cursor (plus random jitter) so a client can never be
 * handed the same cache key twice in a row and loop on a cached response.
 */
export const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9);
export const CURSOR_INTERVAL_SECONDS = 20;
const MAX_JITTER_SECONDS = 3600;

export function currentCursorInterval(nowMs: number = Date.now(), intervalSeconds = CURSOR_INTERVAL_SECONDS): number {
  return Math.floor((nowMs - CURSOR_EPOCH_MS) / (intervalSeconds * 1000));
}

export function nextCursor(
  clientCursor: string | null | undefined,
  nowMs: number = Date.now(),
  intervalSeconds = CURSOR_INTERVAL_SECONDS,
  random: () => number = Math.random,
): string {
  const current = currentCursorInterval(nowMs, intervalSeconds);
  const echoed = clientCursor && /^\d{1,15}$/.test(clientCursor) ? Number(clientCursor) : NaN;
  if (Number.isNaN(echoed) || echoed < current) return String(current);
  const jitterSeconds = 1 + Math.floor(random() * MAX_JITTER_SECONDS);
  return String(echoed + Math.max(1, Math.ceil(jitterSeconds / intervalSeconds)));
}
