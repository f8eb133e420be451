import { ProtocolError } from "./errors.js";
import type { StreamState } from "./model.js";
import { errorStatus } from "../http/error-statuses.js";

/** A stream state with sensible defaults, for rule tests. */
export function streamState(overrides: Partial<StreamState> = {}): StreamState {
  return {
    path: "s",
    contentType: "text/plain",
    ttlSeconds: null,
    expiresAt: null,
    createdAt: 0,
    lastAccessAt: 0,
    tail: 0,
    closed: false,
    lastStreamSeq: null,
    forkedFrom: null,
    forkOffset: 0,
    forkCount: 0,
    softDeleted: false,
    closedBy: null,
    retention: null,
    compaction: null,
    earliest: 0,
    removedBytes: 0,
    ...overrides,
  };
}

/** Runs a rule and returns the status of the ProtocolError it throws (0 when it does not throw). */
export function statusOf(run: () => unknown): number {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return errorStatus(error);
    throw error;
  }
  return 0;
}
