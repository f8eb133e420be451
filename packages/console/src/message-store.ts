/**
 * The messages of one stream view, and the page index that lets the user go
 * back further than what is kept in memory.
 *
 * The server answers reads in chunks, and the offset after every chunk is a
 * position the protocol lets us read from again. Each chunk (or a run of
 * small live chunks) becomes a Page: [start, end) offsets and how many
 * messages it holds. A catch-up may arrive as one response for the whole
 * stream; only its newest INITIAL_KEEP messages stay in memory, but every
 * page is remembered, so the view can say exactly how many earlier messages
 * are not shown and load them back: "load older" reads a page again from its
 * start offset and keeps the next LOAD_STEP messages before those in memory.
 * Offsets are never computed: only ones the server gave are used.
 */

export type Kind = "json" | "text" | "binary";

export interface Message {
  /** JSON as text, the text chunk, or a hex preview of a binary chunk. */
  text: string;
  /** Parsed value (JSON streams). */
  value?: unknown;
  /** Raw bytes of a binary chunk. */
  data?: Uint8Array;
  bytes: number;
  /** Offset right after the chunk this message came in. */
  chunkEnd: string;
  /** Whether this is the chunk's last message (its end offset is exactly after it). */
  lastInChunk: boolean;
}

export interface Page {
  start: string;
  end: string;
  count: number;
  /** Bytes of its messages (to cut a re-read chunk of a text or binary stream at the page's end). */
  bytes: number;
  /** How many of its newest messages are in memory (count: all of it; 0: none). */
  kept: number;
}

/** Messages kept after catching up: the rest stay reachable through "load older". */
export const INITIAL_KEEP = 2000;
/** Most messages one "load older" brings back. */
export const LOAD_STEP = 50_000;
/** Most messages kept while following live; the oldest are let go beyond it. */
export const MAX_KEPT = 250_000;
/** Live chunks are merged into one page until it holds this many messages. */
const PAGE_MERGE = 1000;

export class MessageStore {
  readonly pages: Page[] = [];
  messages: Message[] = [];
  /** False when the view started at an offset: what lies before it was never counted. */
  readonly fromStart: boolean;
  /** The oldest page with messages in memory (pages.length when none). */
  #first = 0;

  constructor(fromStart: boolean) {
    this.fromStart = fromStart;
  }

  /** Messages before the first one in memory, in pages we know of. */
  get hiddenBefore(): number {
    let hidden = 0;
    for (let i = 0; i < this.#first && i < this.pages.length; i++) hidden += this.pages[i]!.count;
    const first = this.pages[this.#first];
    return first ? hidden + first.count - first.kept : hidden;
  }

  /** Every message the stream holds from where the view started (exact when fromStart). */
  get total(): number {
    return this.hiddenBefore + this.messages.length;
  }

  /** The page that "load older" would read again (its older part, or the page before), if any. */
  get olderPage(): Page | null {
    const first = this.pages[this.#first];
    if (first && first.kept < first.count) return first;
    return this.#first > 0 ? this.pages[this.#first - 1]! : null;
  }

  /** How many messages "load older" would bring back. */
  get olderCount(): number {
    const page = this.olderPage;
    return page ? Math.min(LOAD_STEP, page.count - page.kept) : 0;
  }

  /**
   * Appends one chunk read live or during catch-up. With `merge` (live JSON
   * messages) it may extend the last page: a re-read of that page is then cut
   * by message count, which only JSON messages allow.
   */
  add(start: string, end: string, messages: Message[], merge: boolean): void {
    if (start === end && messages.length === 0) return;
    const bytes = messages.reduce((sum, message) => sum + message.bytes, 0);
    const last = this.pages.at(-1);
    if (merge && last && last.kept === last.count && last.end === start && last.count < PAGE_MERGE) {
      last.end = end;
      last.count += messages.length;
      last.kept += messages.length;
      last.bytes += bytes;
    } else {
      if (this.messages.length === 0) this.#first = this.pages.length;
      this.pages.push({ start, end, count: messages.length, bytes, kept: messages.length });
    }
    for (const message of messages) this.messages.push(message);
  }

  /** Lets go of the oldest messages in memory beyond `keep`; returns how many. */
  trim(keep: number): number {
    let excess = this.messages.length - keep;
    if (excess <= 0) return 0;
    const dropped = excess;
    while (excess > 0) {
      const oldest = this.pages[this.#first]!;
      const drop = Math.min(oldest.kept, excess);
      oldest.kept -= drop;
      excess -= drop;
      if (oldest.kept === 0 && this.#first < this.pages.length - 1) this.#first++;
    }
    this.messages = this.messages.slice(dropped);
    return dropped;
  }

  /**
   * Takes back older messages of `page`, read again from its start: `read`
   * holds its messages from the first on (at least up to the ones not kept).
   */
  prepend(page: Page, read: Message[]): number {
    if (this.olderPage !== page) return 0;
    const missing = page.count - page.kept;
    const take = Math.min(LOAD_STEP, missing, read.length);
    if (take <= 0) return 0;
    const older = read.slice(missing - take, missing);
    page.kept += take;
    this.#first = this.pages.indexOf(page);
    this.messages = older.concat(this.messages);
    return take;
  }
}
