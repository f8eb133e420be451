import { concatBytes, isJsonContentType } from "@rill/protocol";
import { EMPTY_READ, type RangeRead } from "../storage/batches.js";
import type { Store } from "../storage/store.js";
import { offsetRetained } from "../domain/errors.js";
import { messageSpanIn, type MessageSpan } from "../domain/message-spans.js";
import type { StreamState } from "../domain/model.js";
import { effectiveRetention, type RetentionDefaults } from "../domain/retention-rules.js";
import { RecentBoundaries } from "./recent-boundaries.js";
import { RecentReads } from "./recent-reads.js";

/** Where a read asks to start: `-1`, `now`, or an offset's position (any position, not only a boundary). */
export type ReadStart = { kind: "beginning" } | { kind: "now" } | { kind: "position"; position: number };

export interface ReadResult {
  /** Stored bytes (JSON streams: framed messages). */
  data: Uint8Array;
  /** Position after `data`. */
  next: number;
  /** True when `next` is the stream's tail. */
  upToDate: boolean;
  /** Positions compaction emptied inside the read (see RangeRead); empty for most reads. */
  gaps: RangeRead["gaps"];
}

/**
 * Every read of stored data, following the fork chain (a fork reads its
 * source below its fork offset), and the offset rule of docs/offsets.md:
 * reads start and stop only on message boundaries, so every offset a reader
 * is given is a boundary and no response holds part of a message.
 *
 * Retention and compaction leave positions no batch covers (docs/retention.md):
 * below the earliest retained position a read is a 410; positions compaction
 * emptied are boundaries too, and reads advance over them by the position a
 * piece ends at, not by the bytes it holds.
 */
export class StreamReads {
  constructor(
    private readonly store: Store,
    /** Bytes a bounded read (SSE catch-up, long-poll) returns at most, whole messages allowed past it once. */
    private readonly windowBytes: number,
    private readonly retention: RetentionDefaults,
    /** Boundaries known without a look at the store (the engine notes its appends' tails). */
    readonly boundaries = new RecentBoundaries(),
    /** Outcomes of recent reads, shared by readers asking for the same range of the same state. */
    private readonly recent = new RecentReads(),
  ) {}

  /** 410 when `position` is below the stream's earliest retained position (retention removed it). */
  checkRetained(stream: StreamState, position: number): void {
    if (position < stream.earliest) throw offsetRetained(stream.earliest);
  }

  /**
   * After reading from `from`: retention may have removed the head meanwhile,
   * and what was read would then start late. The stream's state now tells.
   */
  async confirmRetained(stream: StreamState, from: number): Promise<void> {
    if (from >= stream.tail || effectiveRetention(stream, this.retention) === null) return;
    const now = await this.store.getStream(stream.path);
    if (now) this.checkRetained(now, from);
  }

  /**
   * Where a read starts, by the offset rule of docs/offsets.md: a message
   * boundary, at most the tail — the one place a read's start is checked
   * against the tail. `-1` starts where the retained data does; an offset
   * below it is a 410 in every read mode, before any positioning or wait.
   */
  async positionOf(stream: StreamState, start: ReadStart): Promise<number> {
    if (start.kind === "beginning") return stream.earliest;
    if (start.kind === "now") return stream.tail;
    this.checkRetained(stream, start.position);
    return this.startOf(stream, start.position);
  }

  /**
   * Where a read asked for at `position` starts: the tail when the position
   * is at or past it, else the start of the message holding the position
   * (which is the position itself when it is a boundary).
   */
  async startOf(stream: StreamState, position: number): Promise<number> {
    if (position >= stream.tail) return stream.tail;
    if (position === 0 || position === stream.forkOffset || this.boundaries.has(stream, position)) return position;
    const start = (await this.messageAt(stream, position)).start;
    if (start === position) this.boundaries.note(stream, position);
    return start;
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

  /**
   * Whether a read from `from` may cross positions compaction emptied: the
   * stream, or a source it reads below its fork point, is compacted.
   */
  async mayHaveGaps(stream: StreamState, from: number): Promise<boolean> {
    for (let current: StreamState | undefined = stream; current; ) {
      if (current.compaction !== null) return true;
      if (current.forkedFrom === null || from >= current.forkOffset) return false;
      current = await this.store.getStream(current.forkedFrom);
    }
    return false;
  }

  /**
   * A bounded read from the boundary `from` (at most the tail, as positionOf
   * gives it): whole messages up to the window size (or one larger message).
   * The head is checked again, since a live reader may fall behind retention.
   */
  async read(stream: StreamState, from: number): Promise<ReadResult> {
    this.checkRetained(stream, from);
    const read = await this.recent.read(stream, from, () => this.readStored(stream, from));
    await this.confirmRetained(stream, from);
    return read;
  }

  private async readStored(stream: StreamState, from: number): Promise<ReadResult> {
    const end = await this.endOf(stream, from, this.windowBytes);
    const parts: Uint8Array[] = [];
    const gaps: RangeRead["gaps"] = [];
    let position = from;
    let size = 0;
    while (position < end) {
      const part = await this.piece(stream, position, end, end - position);
      if (part.end <= position) break;
      for (const gap of part.gaps) gaps.push({ index: size + gap.index, skipped: gap.skipped });
      parts.push(part.data);
      size += part.data.length;
      position = part.end;
    }
    const data = parts.length === 0 ? new Uint8Array(0) : concatBytes(parts, size);
    return { data, next: position, upToDate: position >= stream.tail, gaps };
  }

  /**
   * Stored bytes from `from` towards `to`: whole batches while they fit in
   * `maxBytes` (at least one, cut at `to`), stopping at the fork point.
   * It ends where it started when nothing is stored there (the stream went away).
   */
  async piece(stream: StreamState, from: number, to: number, maxBytes: number): Promise<RangeRead> {
    if (from < stream.forkOffset && stream.forkedFrom !== null) {
      const source = await this.store.getStream(stream.forkedFrom);
      if (!source) return EMPTY_READ(from);
      return this.piece(source, from, Math.min(to, stream.forkOffset), maxBytes);
    }
    return this.store.readRange(stream.path, from, to, maxBytes, false);
  }
}
