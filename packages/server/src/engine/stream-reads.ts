import { concatBytes, isJsonContentType } from "@rill/protocol";
import type { Store } from "../storage/store.js";
import { ProtocolError } from "./errors.js";
import { messageSpanIn, type MessageSpan } from "./message-spans.js";
import type { StreamState } from "./model.js";

export interface ReadResult {
  stream: StreamState;
  /** Stored bytes (JSON streams: framed messages). */
  data: Uint8Array;
  /** Position after `data`. */
  next: number;
  /** True when `next` is the stream's tail. */
  upToDate: boolean;
}

/**
 * Every read of stored data, following the fork chain (a fork reads its
 * source below its fork offset), and the offset rule of docs/offsets.md:
 * reads start and stop only on message boundaries, so every offset a reader
 * is given is a boundary and no response holds part of a message.
 */
export class StreamReads {
  constructor(
    private readonly store: Store,
    /** Bytes a bounded read (SSE catch-up, long-poll) returns at most, whole messages allowed past it once. */
    private readonly windowBytes: number,
  ) {}

  /**
   * Where a read asked for at `position` starts: the tail when the position
   * is at or past it, else the start of the message holding the position
   * (which is the position itself when it is a boundary).
   */
  async startOf(stream: StreamState, position: number): Promise<number> {
    if (position >= stream.tail) return stream.tail;
    if (position === 0 || position === stream.forkOffset) return position;
    return (await this.messageAt(stream, position)).start;
  }

  /**
   * Where a response that starts at the boundary `from` and may carry about
   * `limit` bytes stops: the tail when it fits, else the last boundary at or
   * before `from + limit` — or, when a single message is larger than
   * `limit`, the end of that message.
   */
  async endOf(stream: StreamState, from: number, limit: number): Promise<number> {
    if (stream.tail - from <= limit) return stream.tail;
    const cut = await this.messageAt(stream, from + limit);
    return cut.start > from ? cut.start : Math.max(cut.end, from + 1);
  }

  /** The whole message holding `position` (below the tail). */
  async messageAt(stream: StreamState, position: number): Promise<MessageSpan> {
    if (position < stream.forkOffset && stream.forkedFrom !== null) {
      const source = await this.store.getStream(stream.forkedFrom);
      if (!source) return { start: position, end: stream.forkOffset };
      const span = await this.messageAt(source, position);
      // The fork point is a boundary of the fork even where it cuts a source append.
      return { start: span.start, end: Math.min(span.end, stream.forkOffset) };
    }
    const batch = await this.store.batchAt(stream.path, position);
    // No stored batch holds it (not something Rill writes): the position is taken as it is.
    if (!batch) return { start: position, end: stream.tail };
    return messageSpanIn(batch, position, isJsonContentType(stream.contentType));
  }

  /** A bounded read from the boundary `from`: whole messages up to the window size (or one larger message). */
  async read(stream: StreamState, from: number): Promise<ReadResult> {
    if (from > stream.tail) {
      throw new ProtocolError(400, "INVALID_OFFSET", "offset is past the end of the stream");
    }
    const end = await this.endOf(stream, from, this.windowBytes);
    const parts: Uint8Array[] = [];
    let position = from;
    let size = 0;
    while (position < end) {
      const part = await this.piece(stream, position, end, end - position);
      if (part.length === 0) break;
      parts.push(part);
      size += part.length;
      position += part.length;
    }
    const data = parts.length === 0 ? new Uint8Array(0) : concatBytes(parts, size);
    return { stream, data, next: position, upToDate: position >= stream.tail };
  }

  /**
   * Stored bytes from `from` towards `to`: whole batches while they fit in
   * `maxBytes` (at least one, cut at `to`), stopping at the fork point.
   * Empty when nothing is stored there (the stream went away).
   */
  async piece(stream: StreamState, from: number, to: number, maxBytes: number): Promise<Uint8Array> {
    if (from < stream.forkOffset && stream.forkedFrom !== null) {
      const source = await this.store.getStream(stream.forkedFrom);
      if (!source) return new Uint8Array(0);
      return this.piece(source, from, Math.min(to, stream.forkOffset), maxBytes);
    }
    return this.store.readRange(stream.path, from, to, maxBytes, false);
  }
}
