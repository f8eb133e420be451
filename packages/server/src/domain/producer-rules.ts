import { ProtocolError } from "./errors.js";
import type { ProducerRef, ProducerState } from "./model.js";

/**
 * The idempotent-producer state machine (PROTOCOL §5.2.1), as a pure function.
 *
 *   epoch < known           → 403, tell the caller the current epoch (fencing)
 *   epoch > known, seq ≠ 0  → 400, a new epoch must start at 0
 *   epoch > known, seq = 0  → accept, new session
 *   same epoch, seq ≤ last  → duplicate (204, nothing written)
 *   same epoch, seq = last+1→ accept
 *   same epoch, seq > last+1→ 409 with the expected and received seq
 *
 * An unknown producer behaves as if it had epoch 0 and no sequence yet.
 */
export type ProducerDecision =
  | { kind: "accept"; next: ProducerState }
  | { kind: "duplicate"; state: ProducerState };

export function decideProducer(known: ProducerState | undefined, request: ProducerRef): ProducerDecision {
  if (known === undefined) {
    if (request.seq !== 0) throw sequenceGap(0, request.seq);
    return { kind: "accept", next: { epoch: request.epoch, lastSeq: 0 } };
  }
  if (request.epoch < known.epoch) {
    throw new ProtocolError(
      "PRODUCER_STALE_EPOCH",
      `producer epoch ${request.epoch} is stale; the current epoch is ${known.epoch}`,
      { currentEpoch: known.epoch },
    );
  }
  if (request.epoch > known.epoch) {
    if (request.seq !== 0) {
      throw new ProtocolError(
        "PRODUCER_BAD_EPOCH_START",
        `a new producer epoch must start at seq 0, got ${request.seq}`,
      );
    }
    return { kind: "accept", next: { epoch: request.epoch, lastSeq: 0 } };
  }
  if (request.seq <= known.lastSeq) return { kind: "duplicate", state: known };
  if (request.seq === known.lastSeq + 1) return { kind: "accept", next: { epoch: known.epoch, lastSeq: request.seq } };
  throw sequenceGap(known.lastSeq + 1, request.seq);
}

function sequenceGap(expected: number, received: number): ProtocolError {
  return new ProtocolError("PRODUCER_SEQ_GAP", `producer seq gap: expected ${expected}, received ${received}`, {
    expectedSeq: expected,
    receivedSeq: received,
  });
}
