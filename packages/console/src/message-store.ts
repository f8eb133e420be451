/**
 * The messages of one stream view, and the page index that lets the user go
 * back further than what is kept in memory.
 *
 * The server answers reads in chunks, and the offset after every chunk is a
 * position the protocol lets us read from again. Each chunk (or a run of
 * small live chunks) becomes a Page: [start, end) offsets and how many
 * messages it holds. Catch-up keeps only the newest pages in memory (at
 * least INITIAL_KEEP messages) but remembers every page, so the view can say
 * exactly how many earlier messages are not shown and load them back, page
 * by page, by offset. Offsets are never computed: only ones the server gave.
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
  loaded: boolean;
}

/** Messages kept after catching up: the rest stay reachable through "load older". */
export const INITIAL_KEEP = 2000;
/** Most messages kept while following live; the oldest pages are let go beyond it. */
export const MAX_KEPT = 250_000;
/** Live chunks are merged into one page until it holds this many messages. */
const PAGE_MERGE = 1000;

export class MessageStore {
  readonly pages: Page[] = [];
  messages: Message[] = [];
  /** False when the view started at an offset: what lies before it was never counted. */
  readonly fromStart: boolean;
  #firstLoaded = 0;

  constructor(fromStart: boolean) {
    this.fromStart = fromStart;
  }

  /** Messages before the first one in memory, in pages we know of. */
  get hiddenBefore(): number {
    let hidden = 0;
    for (let i = 0; i < this.#firstLoaded; i++) hidden += this.pages[i]!.count;
    return hidden;
  }

  /** Every message the stream holds from where the view started (exact when fromStart). */
  get total(): number {
    return this.hiddenBefore + this.messages.length;
  }

  /** The page that "load older" would fetch, if any. */
  get olderPage(): Page | null {
    return this.#firstLoaded > 0 ? this.pages[this.#firstLoaded - 1]! : null;
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
    if (merge && last && last.loaded && last.end === start && last.count < PAGE_MERGE) {
      last.end = end;
      last.count += messages.length;
      last.bytes += bytes;
    } else {
      this.pages.push({ start, end, count: messages.length, bytes, loaded: true });
    }
    for (const message of messages) this.messages.push(message);
  }

  /** Lets go of the oldest pages in memory while more than `keep` messages would remain. */
  trim(keep: number): number {
    let dropped = 0;
    while (this.#firstLoaded < this.pages.length - 1) {
      const oldest = this.pages[this.#firstLoaded]!;
      if (this.messages.length - dropped - oldest.count < keep) break;
      oldest.loaded = false;
      dropped += oldest.count;
      this.#firstLoaded++;
    }
    if (dropped > 0) this.messages = this.messages.slice(dropped);
    return dropped;
  }

  /** Puts a page fetched again by "load older" back in front. */
  prepend(page: Page, messages: Message[]): void {
    if (this.olderPage !== page) return;
    page.loaded = true;
    page.count = messages.length;
    this.#firstLoaded--;
    this.messages = messages.concat(this.messages);
  }
}
