/**
 * Server-Sent Events framing. Each line of a payload becomes its own `data:`
 * line (CR, LF and CRLF all end a line), so multi-line text survives intact.
 * No space follows `data:` (the common case stays compact and literal); a
 * payload line that starts with a space gets one extra, because SSE parsers
 * strip exactly one space after the colon.
 */
export function formatSseEvent(event: string, payload: string): string {
  let out = `event: ${event}\n`;
  const lines = payload.split(/\r\n|\r|\n/);
  // A line that itself starts with a space gets one more, which the parser strips.
  for (const line of lines) out += line.startsWith(" ") ? `data: ${line}\n` : `data:${line}\n`;
  return out + "\n";
}

/** A control event's fields, as the protocol names them. */
export interface SseControl {
  streamNextOffset: string;
  streamCursor?: string;
  upToDate?: boolean;
  streamClosed?: boolean;
}
