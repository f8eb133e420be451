import type { AppendOutcome } from "../domain/commands.js";
import { ProtocolError } from "../domain/errors.js";
import { counter } from "./registry.js";

export const appends = counter({ name: "rill_appends_total", help: "Appends committed (POSTs that added data or closed a stream)" });
export const appendMessages = counter({
  name: "rill_append_messages_total",
  help: "Messages committed by appends (JSON streams: array elements; other streams: one per append with data)",
});
export const appendBytes = counter({ name: "rill_append_bytes_total", help: "Bytes committed by appends, as stored" });
export const producerDuplicates = counter({
  name: "rill_producer_duplicates_total",
  help: "Producer appends recognised as retries of something already committed (acknowledged, nothing written)",
});
export const producerFenced = counter({ name: "rill_producer_fenced_total", help: "Producer appends refused for a stale epoch (403)" });
export const producerSeqGaps = counter({ name: "rill_producer_seq_gaps_total", help: "Producer appends refused for a sequence gap (409)" });
export const appendsRejected = counter({
  name: "rill_appends_rejected_total",
  help: "Appends refused, by reason (the error code in lower case, e.g. stream_closed, payload_too_large, internal)",
  labelNames: ["reason"],
});

/** After an append over HTTP was decided: what it committed, or that it was a producer's retry. */
export function recordAppend(outcome: AppendOutcome, fromProducer: boolean, bytes: number, messages: number): void {
  if (outcome.kind === "duplicate") {
    if (fromProducer) producerDuplicates.inc();
    return;
  }
  appends.inc();
  appendBytes.inc(bytes);
  appendMessages.inc(messages);
}

/** An append that failed, by the reason its error names. */
export function recordAppendRefused(error: unknown): void {
  const code = error instanceof ProtocolError ? error.code : "INTERNAL";
  appendsRejected.at(code.toLowerCase()).inc();
  if (code === "PRODUCER_STALE_EPOCH") producerFenced.inc();
  else if (code === "PRODUCER_SEQ_GAP") producerSeqGaps.inc();
}
