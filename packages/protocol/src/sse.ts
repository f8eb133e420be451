/**
 * Server-Sent Events framing. Each line of a payload becomes its own `data:`
 * line (CR, LF and CRLF all end a line), so multi-line text survives intact.
 * No space follows `data:` because a parser strips at most one, and payload
 * lines may start with a space of their own.
 */
export function formatSseEvent(event: string, payload: string): string {
  let out = `event: ${event}\n`;
  const lines = payload.split(/\r\n|\r|\n/);
  for (const line of lines) out += `data:${line}\n`;
  return out + "\n";
}

/** A control event's fields, as the protocol names them. */
export interface SseControl {
  streamNextOffset: string;
  streamCursor?: string;
  upToDate?: boolean;
  streamClosed?: boolean;
}
