import type { CompactionPolicy, ProducerRef, RetentionPolicy, StreamState } from "./model.js";

/** PUT: create a stream (or confirm it exists with the same configuration). */
export interface CreateCommand {
  path: string;
  /** Content type as sent, or null when the request had none. */
  contentType: string | null;
  ttlSeconds: number | null;
  expiresAt: number | null;
  /** Create the stream already closed. */
  closed: boolean;
  /** Initial content, already framed for storage (JSON streams: `m1,m2,`). */
  data: Uint8Array;
  fork: ForkRequest | null;
  /** `Rill-Retention-Age` / `Rill-Retention-Bytes`; null when neither was sent. */
  retention: RetentionPolicy | null;
  /** `Rill-Compaction: key` and its settings; null when not asked for. */
  compaction: CompactionPolicy | null;
}

/** A create command whose fork point the engine has resolved to a byte position in the source. */
export interface ResolvedCreateCommand extends Omit<CreateCommand, "fork"> {
  fork: ResolvedFork | null;
}

/** A fork point as a byte position in the source (Engine.resolveFork). */
export interface ResolvedFork {
  source: string;
  position: number;
  /** The request named a fork offset or sub-offset, so a re-create must name the same point. */
  explicit: boolean;
}

export interface ForkRequest {
  source: string;
  /** Fork point as a byte position in the source; null means the source's tail. */
  position: number | null;
  /** Extra units past `position`: messages for JSON streams, bytes otherwise. */
  subOffset: number;
}

/** POST: append data and/or close the stream. */
export interface AppendCommand {
  path: string;
  contentType: string | null;
  /** Already framed for storage; may be empty only when `close` is set. */
  data: Uint8Array;
  streamSeq: string | null;
  producer: ProducerRef | null;
  close: boolean;
}

export interface CreateOutcome {
  created: boolean;
  stream: StreamState;
}

export interface AppendOutcome {
  /** "duplicate": an idempotent retry of something already applied; nothing was written. */
  kind: "appended" | "duplicate";
  stream: StreamState;
  /** Position where the appended bytes start (equals the tail for duplicates). */
  start: number;
  /** Producer epoch/seq to echo back, when the request came from a producer. */
  producer: { epoch: number; seq: number } | null;
}

export interface DeleteOutcome {
  /** True when the stream is only hidden because forks still read through it. */
  soft: boolean;
}
