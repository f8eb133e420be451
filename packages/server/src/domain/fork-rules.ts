import { offsetRetained, ProtocolError } from "./errors.js";
import { isExpired, type StreamState } from "./model.js";

/**
 * Every refusal of a fork, decided in one place. The engine checks the source
 * once before a create (to resolve the fork point), and the store checks it
 * again inside its transaction through decideCreate, since the source may
 * have been deleted, expired or trimmed in between: both go through here.
 */
export function checkForkSource(source: StreamState | undefined, path: string, now: number): StreamState {
  if (!source || isExpired(source, now)) throw new ProtocolError("FORK_SOURCE_NOT_FOUND", `fork source not found: ${path}`);
  if (source.softDeleted) throw new ProtocolError("FORK_SOURCE_GONE", `fork source was deleted: ${path}`);
  return source;
}

/** A fork point must lie within what the source still holds: at most its tail, not below its earliest retained position. */
export function checkForkPoint(source: StreamState, position: number): void {
  if (position > source.tail || position < 0) throw forkPointPastTail("fork offset");
  if (position < source.earliest) throw offsetRetained(source.earliest, "the fork offset");
}

/** A sub-offset that counts past the source's last message (or byte). */
export function forkSubOffsetPastTail(): ProtocolError {
  return forkPointPastTail("fork sub-offset");
}

function forkPointPastTail(what: string): ProtocolError {
  return new ProtocolError("FORK_OFFSET_OUT_OF_RANGE", `${what} is past the end of the source stream`);
}
