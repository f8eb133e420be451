import { formatOffset, OFFSET_BEGINNING, parseOffset } from "@rill/protocol";
import { ProtocolError } from "../domain/errors.js";
import { invalid, normalizeStreamPath } from "./config.js";
import type { LinkRecord, WakeStream } from "./model.js";

/**
 * Cursor arithmetic: acknowledged offsets against stream tails, what counts
 * as pending, and validation of the acknowledgements a consumer sends.
 */

/** Byte position of an acknowledged offset; "-1" (nothing yet) is before position 0. */
export function ackedPosition(offset: string): number {
  return offset === OFFSET_BEGINNING ? -1 : (parseOffset(offset) ?? -1);
}

/** A stream has pending work while it has bytes past the cursor. */
export function hasPending(link: LinkRecord, tail: number | null): boolean {
  return tail !== null && tail > Math.max(0, ackedPosition(link.ackedOffset));
}

/** The offset a new link starts from: the current tail of an existing stream, "-1" otherwise. */
export function startOffset(tail: number | null): string {
  return tail === null ? OFFSET_BEGINNING : formatOffset(tail);
}

export function linkType(link: LinkRecord): "explicit" | "glob" {
  return link.explicit ? "explicit" : "glob";
}

/** One stream as wake payloads, claims and GET describe it. */
export interface StreamInfo {
  path: string;
  link_type: "explicit" | "glob";
  acked_offset: string;
  tail_offset: string;
  has_pending: boolean;
}

export function wakeStreamInfos(snapshot: readonly WakeStream[], links: ReadonlyMap<string, LinkRecord>): StreamInfo[] {
  const infos: StreamInfo[] = [];
  for (const { path, tail } of snapshot) {
    const link = links.get(path);
    if (!link) continue;
    infos.push({
      path,
      link_type: linkType(link),
      acked_offset: link.ackedOffset,
      tail_offset: tail,
      has_pending: hasPending(link, parseOffset(tail) ?? null),
    });
  }
  return infos;
}

export interface AckRequest {
  path: string;
  offset: string;
}

/** Parses the `acks` member of a callback or ack body. */
export function parseAcks(value: unknown): AckRequest[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid("acks must be an array of {stream, offset}");
  return value.map((item, index) => {
    const ack = typeof item === "object" && item !== null ? (item as Record<string, unknown>) : {};
    const path = normalizeStreamPath(ack.stream);
    if (path === null || typeof ack.offset !== "string") {
      throw invalid(`acks[${index}] must be {"stream": <path>, "offset": <offset>}`);
    }
    return { path, offset: ack.offset };
  });
}

function invalidOffset(message: string): ProtocolError {
  return new ProtocolError("INVALID_OFFSET", message, { cursorConflict: true });
}

/**
 * Checks acknowledgements against the cursors and tails and returns the
 * cursor moves to make. An ack may not go backwards, past the tail, or name a
 * stream outside the subscription; acks for streams of the current wake that
 * were deleted since are skipped. Nothing is applied unless every ack is valid.
 */
export function planAcks(
  acks: readonly AckRequest[],
  links: ReadonlyMap<string, LinkRecord>,
  tails: ReadonlyMap<string, number | null>,
  wake: readonly WakeStream[],
): Map<string, string> {
  const moves = new Map<string, string>();
  for (const { path, offset } of acks) {
    const link = links.get(path);
    const tail = tails.get(path) ?? null;
    if (!link || tail === null) {
      if (wake.some((stream) => stream.path === path)) continue;
      throw invalidOffset(`${path} is not a stream of this subscription`);
    }
    const position = parseOffset(offset);
    if (position === undefined) throw invalidOffset(`acks for ${path}: "${offset}" is not an offset of that stream`);
    if (position < ackedPosition(link.ackedOffset)) {
      throw invalidOffset(`acks for ${path}: ${offset} is before the acknowledged offset ${link.ackedOffset}`);
    }
    if (position > tail) throw invalidOffset(`acks for ${path}: ${offset} is past the tail ${formatOffset(tail)}`);
    moves.set(path, formatOffset(position));
  }
  return moves;
}
