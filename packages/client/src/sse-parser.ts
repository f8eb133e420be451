/**
 * An incremental Server-Sent Events parser following the WHATWG
 * "event stream interpretation" rules:
 * - UTF-8, one leading BOM ignored;
 * - lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at
 *   the start of the next are a single line break);
 * - lines starting with ":" are comments;
 * - `field:value` with at most one space after the colon removed; a line with
 *   no colon is a field with an empty value;
 * - several `data` lines join with "\n";
 * - a blank line dispatches the event, unless no data field was seen;
 * - an event still incomplete when the stream ends is discarded.
 */

export interface SseEvent {
  /** The `event` field, or "message" when absent. */
  type: string;
  data: string;
  /** The last `id` seen on this connection, if any. */
  lastEventId: string;
}

export class SseParser {
  readonly #decoder = new TextDecoder("utf-8");
  #partial = "";
  #pendingCR = false;
  #type = "";
  #data: string[] = [];
  #hasData = false;
  #lastEventId = "";
  /** Reconnection time the server asked for with `retry:`, if any. */
  retry: number | undefined;

  /** Feeds bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.#feed(this.#decoder.decode(chunk, { stream: true }));
  }

  /** Feeds already-decoded text. */
  pushText(text: string): SseEvent[] {
    return this.#feed(text);
  }

  /** Ends the stream: whatever is incomplete is dropped. */
  end(): SseEvent[] {
    const events = this.#feed(this.#decoder.decode());
    this.#partial = "";
    this.#data = [];
    this.#hasData = false;
    this.#type = "";
    return events;
  }

  #feed(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    if (text.length === 0) return events;
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    const source = this.#partial + text;
    let start = 0;
    let nextCR = source.indexOf("\r");
    let nextLF = source.indexOf("\n");
    while (nextCR !== -1 || nextLF !== -1) {
      let end: number;
      let after: number;
      if (nextCR !== -1 && (nextLF === -1 || nextCR < nextLF)) {
        end = nextCR;
        if (end + 1 === source.length) {
          this.#pendingCR = true;
          after = end + 1;
        } else {
          after = source.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
        }
      } else {
        end = nextLF;
        after = end + 1;
      }
      this.#line(source.slice(start, end), events);
      start = after;
      if (nextCR !== -1 && nextCR < start) nextCR = source.indexOf("\r", start);
      if (nextLF !== -1 && nextLF < start) nextLF = source.indexOf("\n", start);
    }
    this.#partial = source.slice(start);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      this.#dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "event":
        this.#type = value;
        break;
      case "data":
        this.#data.push(value);
        this.#hasData = true;
        break;
      case "id":
        if (!value.includes("\u0000")) this.#lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#hasData) {
      events.push({ type: this.#type || "message", data: this.#data.join("\n"), lastEventId: this.#lastEventId });
    }
    this.#type = "";
    this.#data = [];
    this.#hasData = false;
  }
}
