import { mediaType } from "@rill/protocol";
import type { AppendCommand } from "./commands.js";
import { gone, ProtocolError, streamNotFound } from "./errors.js";
import { isExpired, type ProducerState, type StreamState } from "./model.js";
import { decideProducer } from "./producer-rules.js";

export type AppendDecision =
  | { kind: "duplicate"; stream: StreamState; echo: ProducerEcho | null }
  | { kind: "append"; next: StreamState; start: number; producer: ProducerState | null; echo: ProducerEcho | null };

/** What a producer is told on success: its epoch and the highest seq the server holds for it. */
export interface ProducerEcho {
  epoch: number;
  seq: number;
}

const echoOf = (state: ProducerState): ProducerEcho => ({ epoch: state.epoch, seq: state.lastSeq });

/**
 * Decides an append against the stream's current state. Pure: stores call it
 * inside their transaction (or lock) and persist what it returns, so the
 * rules are the same on every store.
 */
export function decideAppend(
  stream: StreamState | undefined,
  producer: ProducerState | undefined,
  command: AppendCommand,
  now: number,
): AppendDecision {
  if (!stream || isExpired(stream, now)) throw streamNotFound(command.path);
  if (stream.softDeleted) throw gone(command.path);

  if (
    command.data.length > 0 &&
    command.contentType !== null &&
    // The same text as the stream's (every append of a well-behaved client) needs no parsing to match.
    command.contentType !== stream.contentType &&
    mediaType(command.contentType) !== mediaType(stream.contentType)
  ) {
    throw new ProtocolError(
      "CONTENT_TYPE_MISMATCH",
      `content type ${mediaType(command.contentType)} does not match the stream's ${mediaType(stream.contentType)}`,
    );
  }

  const request = command.producer;
  if (stream.closed) {
    // A retry of the very request that closed the stream succeeds again; so does
    // any earlier retry of the closing producer. Everything else is a conflict.
    const closer = stream.closedBy;
    if (request && closer && request.id === closer.id && request.epoch === closer.epoch && request.seq <= closer.seq) {
      return { kind: "duplicate", stream, echo: { epoch: closer.epoch, seq: closer.seq } };
    }
    if (!request && command.close && command.data.length === 0) {
      return { kind: "duplicate", stream, echo: null };
    }
    throw new ProtocolError("STREAM_CLOSED", `stream is closed: ${command.path}`, { closed: true, tail: stream.tail });
  }

  let nextProducer: ProducerState | null = null;
  if (request) {
    const decision = decideProducer(producer, request);
    if (decision.kind === "duplicate") return { kind: "duplicate", stream, echo: echoOf(decision.state) };
    nextProducer = decision.next;
  }

  if (command.streamSeq !== null && stream.lastStreamSeq !== null && compareBytewise(command.streamSeq, stream.lastStreamSeq) <= 0) {
    throw new ProtocolError(
      "SEQUENCE_CONFLICT",
      `Stream-Seq ${command.streamSeq} is not greater than the last one (${stream.lastStreamSeq})`,
    );
  }

  // Every field by name (the type makes sure none is missed): this runs for every append, and V8 builds
  // a literal of known shape many times faster than a spread with overrides (~1 µs).
  const next: StreamState = {
    path: stream.path,
    contentType: stream.contentType,
    ttlSeconds: stream.ttlSeconds,
    expiresAt: stream.expiresAt,
    createdAt: stream.createdAt,
    lastAccessAt: now,
    tail: stream.tail + command.data.length,
    closed: command.close,
    lastStreamSeq: command.streamSeq ?? stream.lastStreamSeq,
    forkedFrom: stream.forkedFrom,
    forkOffset: stream.forkOffset,
    forkCount: stream.forkCount,
    softDeleted: stream.softDeleted,
    closedBy: command.close && request ? { ...request } : null,
    retention: stream.retention,
    compaction: stream.compaction,
    earliest: stream.earliest,
    removedBytes: stream.removedBytes,
  };
  return {
    kind: "append",
    next,
    start: stream.tail,
    producer: nextProducer,
    echo: nextProducer ? echoOf(nextProducer) : null,
  };
}

/** Stream-Seq values compare as UTF-8 bytes, which is not JavaScript's UTF-16 string order. */
function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
