import { DurableStream, IdempotentProducer } from "@rill/client";
import { formatBytes } from "@rill/protocol";
import {
  loadState,
  newProducerId,
  removeState,
  saveState,
  stateFilePath,
  type AppendState,
} from "./append-state.js";
import type { Target } from "./common.js";
import { CliError, describeError, EXIT } from "./errors.js";
import { HEAD_BYTES, splitRecords, type InputRecord, type InputSource } from "./input.js";
import { startProgress, wantProgress } from "./progress.js";

/**
 * `rill append` of files and standard input: records (lines, or JSON lines)
 * in batches through an idempotent producer, with resume state kept on disk
 * (append-state.ts) so a run that stops can be repeated without duplicates,
 * and a run that finished is not repeated by accident.
 */
export interface AppendRecordsFlags {
  jsonLines?: boolean;
  progress?: boolean;
  resume: boolean;
  again?: boolean;
  stateDir: string;
  batchSize: number;
}

export interface Summary {
  url: string;
  messages: number;
  bytes: number;
  resumed: boolean;
}

export async function* singleChunk(body: Uint8Array): AsyncGenerator<Uint8Array> {
  yield body;
}

function alreadyAppended(saved: AppendState, source: InputSource, url: string): CliError {
  const grown = saved.completed?.inputSize !== source.size ? ` (it was ${formatBytes(saved.completed?.inputSize ?? 0)} then, ${formatBytes(source.size ?? 0)} now)` : "";
  return new CliError(
    EXIT.conflict,
    `${source.label} was already appended to ${url} in full on ${saved.completed?.at ?? saved.updatedAt}` +
      `${grown}: ${saved.ackedMessages.toLocaleString("en-US")} messages; use --again to append it again`,
  );
}

/**
 * Whether the input is the one the saved run was reading. After a stop at
 * bad input, the part past what was acknowledged may have been fixed, so
 * only the acknowledged prefix has to match then.
 */
async function sameInput(saved: AppendState, source: InputSource, headHash: string): Promise<boolean> {
  if (saved.headHash === headHash) return true;
  const prefix = saved.ackedPrefix;
  return prefix !== undefined && prefix.bytes === Math.min(saved.ackedBytes, HEAD_BYTES) && (await source.headHash(prefix.bytes)) === prefix.sha256;
}

interface Batch {
  records: InputRecord[];
  bytes: number;
  from: number;
  to: number;
}

/**
 * Groups records into batches of at most `limit` bytes of data. A record
 * larger than the limit travels alone.
 */
async function* batchesOf(records: AsyncIterable<InputRecord>, limit: number): AsyncGenerator<Batch> {
  let batch: Batch | null = null;
  for await (const record of records) {
    if (batch && batch.bytes + record.data.length > limit) {
      yield batch;
      batch = null;
    }
    batch ??= { records: [], bytes: 0, from: record.start, to: record.start };
    batch.records.push(record);
    batch.bytes += record.data.length;
    batch.to = record.end;
  }
  if (batch) yield batch;
}

export function checkJson(batch: Batch, messagesBefore: number): string[] {
  return batch.records.map((record, index) => {
    const text = record.data.toString("utf8");
    try {
      JSON.parse(text);
    } catch (error) {
      const snippet = text.length > 60 ? `${text.slice(0, 60)}…` : text;
      throw new CliError(
        EXIT.usage,
        `message ${messagesBefore + index + 1} (input byte ${record.start}) is not valid JSON: ${(error as Error).message}: ${snippet}`,
      );
    }
    return text;
  });
}

/**
 * Sends records through an IdempotentProducer one batch at a time, keeping
 * resume state (see append-state.ts) so an interrupted run can be repeated
 * without losing or duplicating anything.
 */
export async function appendRecords(
  where: Target,
  handle: DurableStream,
  contentType: string,
  source: InputSource,
  flags: AppendRecordsFlags,
): Promise<Summary> {
  const jsonLines = flags.jsonLines === true;
  const headHash = await source.headHash();
  const statePath = stateFilePath(flags.stateDir, where.url, source.key, headHash);
  if (!flags.resume) removeState(statePath);
  let saved = flags.resume ? loadState(statePath) : null;
  if (saved?.completed) {
    if (!flags.again) throw alreadyAppended(saved, source, where.url);
    saved = null;
  }
  if (saved && (saved.url !== where.url || saved.input !== source.key || !(await sameInput(saved, source, headHash)))) {
    throw new CliError(EXIT.usage, `the input differs from the interrupted run recorded in ${statePath}; use --no-resume to start over`);
  }
  if (saved && saved.jsonLines !== jsonLines) {
    throw new CliError(
      EXIT.usage,
      `the interrupted run ${saved.jsonLines ? "used" : "did not use"} --json-lines; repeat it the same way, or use --no-resume`,
    );
  }
  let state: AppendState = saved ? { ...saved, headHash, ackedPrefix: undefined } : {
    version: 1,
    url: where.url,
    input: source.key,
    headHash,
    jsonLines,
    batchBytes: flags.batchSize,
    producerId: newProducerId(),
    epoch: 0,
    ackedBytes: 0,
    ackedMessages: 0,
    pending: null,
    updatedAt: "",
  };
  const startBytes = state.ackedBytes;
  const startMessages = state.ackedMessages;
  if (saved) {
    process.stderr.write(
      `rill: resuming: ${saved.ackedMessages.toLocaleString("en-US")} messages (${formatBytes(saved.ackedBytes)}) were acknowledged by an earlier run\n`,
    );
  }

  const records = splitRecords(source.read(state.ackedBytes), state.ackedBytes, {
    jsonLines,
    maxRecordBytes: state.batchBytes,
  });
  const batches = batchesOf(records, state.batchBytes);

  if (state.pending) {
    // The batch in flight when the last run stopped: send the same range again
    // under the same producer id, epoch and sequence number. The server appends
    // it if it never arrived and recognises it as a duplicate if it did.
    const pending = state.pending;
    const next = await batches.next();
    const batch = next.done ? undefined : next.value;
    if (!batch || batch.from !== pending.fromBytes || batch.to !== pending.toBytes) {
      throw new CliError(EXIT.usage, `the input no longer matches the interrupted run recorded in ${statePath}; use --no-resume to start over`);
    }
    const body = jsonLines ? `[${checkJson(batch, state.ackedMessages).join(",")}]` : Buffer.concat(batch.records.map((r) => r.data));
    await handle.appendStream(singleChunk(typeof body === "string" ? Buffer.from(body) : body), {
      contentType,
      producerId: state.producerId,
      producerEpoch: state.epoch,
      producerSeq: pending.seq,
    });
    state = { ...state, ackedBytes: pending.toBytes, ackedMessages: state.ackedMessages + pending.messages, pending: null };
  }
  if (saved) {
    // Everything later goes out under a new epoch, whose sequence starts at 0.
    state = { ...state, epoch: state.epoch + 1 };
    saveState(statePath, state);
  }

  const progress = startProgress({
    enabled: wantProgress(flags.progress),
    totalBytes: source.size,
    startBytes: state.ackedBytes,
    startMessages: state.ackedMessages,
  });
  let failure: Error | undefined;
  const producer = new IdempotentProducer(new DurableStream({ url: where.url, headers: where.headers, contentType }), state.producerId, {
    epoch: state.epoch,
    // Batches are cut here, one per flush(): the producer must not split them.
    maxBatchBytes: state.batchBytes * 4 + 64 * 1024,
    lingerMs: 60_000,
    maxInFlight: 1,
    onError: (error) => {
      failure ??= error;
    },
  });

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    for await (const batch of batches) {
      if (interrupted) break;
      const messages = jsonLines ? checkJson(batch, state.ackedMessages) : batch.records.map((r) => r.data);
      const seq = producer.nextSeq;
      state = { ...state, pending: { seq, fromBytes: batch.from, toBytes: batch.to, messages: messages.length } };
      saveState(statePath, state);
      for (const message of messages) producer.append(message);
      await producer.flush();
      if (failure) throw failure;
      if (producer.nextSeq !== seq + 1) {
        throw new Error(`internal error: a batch was sent as ${producer.nextSeq - seq} requests; resume state may be unreliable`);
      }
      state = { ...state, ackedBytes: batch.to, ackedMessages: state.ackedMessages + messages.length, pending: null };
      progress.update(state.ackedMessages, state.ackedBytes);
    }
  } catch (error) {
    progress.stop();
    const described = describeError(error, where.url);
    if (state.ackedMessages === 0) {
      // Nothing reached the stream: there is nothing to resume after.
      removeState(statePath);
      throw new CliError(described.exitCode, described.message);
    }
    const prefixBytes = Math.min(state.ackedBytes, HEAD_BYTES);
    // A pipe's head cannot be read again; files can be fixed and resumed (sameInput).
    const ackedPrefix = source.key === "stdin" ? undefined : { bytes: prefixBytes, sha256: await source.headHash(prefixBytes) };
    saveState(statePath, { ...state, ackedPrefix });
    const badInput = error instanceof CliError && error.exitCode === EXIT.usage;
    throw new CliError(
      EXIT.partial,
      `${described.message}; ${state.ackedMessages.toLocaleString("en-US")} messages (the first ${formatBytes(state.ackedBytes)} of input) ` +
        `are in the stream: ${badInput ? "fix the input, then run" : "run"} the same command again to resume after them`,
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  progress.stop();
  if (interrupted) {
    saveState(statePath, state);
    process.stderr.write(
      `rill: interrupted after ${state.ackedMessages.toLocaleString("en-US")} messages (${formatBytes(state.ackedBytes)}); run the same command again to resume\n`,
    );
    process.exit(130);
  }
  // What was read from a pipe cannot be read again, so only files are remembered as done.
  if (source.size !== undefined) saveState(statePath, { ...state, pending: null, completed: { at: new Date().toISOString(), inputSize: source.size } });
  else removeState(statePath);
  return {
    url: where.url,
    messages: state.ackedMessages - startMessages,
    bytes: state.ackedBytes - startBytes,
    resumed: saved !== null,
  };
}
