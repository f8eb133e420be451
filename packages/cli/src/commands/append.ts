import { DurableStream, IdempotentProducer } from "@rill/client";
import { formatBytes, isJsonContentType, mediaType } from "@rill/protocol";
import { Command, Option } from "commander";
import {
  defaultStateDir,
  loadState,
  newProducerId,
  removeState,
  saveState,
  stateFilePath,
  type AppendState,
} from "../append-state.js";
import { target, withClientOptions, writeOut, type ClientFlags, type Target } from "../common.js";
import { CliError, describeError, EXIT } from "../errors.js";
import { openInputs, readAll, splitRecords, type InputRecord, type InputSource } from "../input.js";
import { startProgress, wantProgress } from "../progress.js";
import { parseSize } from "../units.js";
import { runVerb } from "../run.js";

interface AppendFlags extends ClientFlags {
  file: string[];
  jsonLines?: boolean;
  contentType?: string;
  newline?: boolean;
  progress?: boolean;
  resume: boolean;
  stateDir: string;
  batchSize: number;
  json?: boolean;
}

const DEFAULT_BATCH = 256 * 1024;

export function appendCommand(): Command {
  return withClientOptions(new Command("append"))
    .description(
      "Append to a stream: the data argument, files, or standard input.\n\n" +
        "For a JSON stream the data is one JSON value (an array appends each element,\n" +
        "as a POST does), or with --json-lines one message per input line.\n" +
        "Files and standard input go through an idempotent producer, batch by batch;\n" +
        "if the run is interrupted, running the same command again resumes after what\n" +
        "the server acknowledged, without duplicates.",
    )
    .argument("<stream>", "stream name (resolved against --server) or full URL")
    .argument("[data]", "data to append; without it, --file or standard input is read")
    .addOption(
      new Option("-f, --file <path>", "read data from a file; repeat for several (- is standard input)")
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .default([] as string[], "standard input"),
    )
    .option("--json-lines", "each input line is one JSON message (blank lines are skipped)")
    .option("--content-type <type>", "content type of the data (default: the stream's)")
    .option("-n, --newline", "end the data argument with a newline")
    .option("--progress", "show a progress bar even when not on a terminal")
    .option("--no-progress", "never show a progress bar (default: shown when stdout and stderr are terminals)")
    .option("--no-resume", "start over, discarding what an interrupted run recorded")
    .addOption(
      new Option("--state-dir <dir>", "where resume state is kept")
        .env("RILL_STATE_DIR")
        .default(defaultStateDir(), "$XDG_STATE_HOME/rill/appends"),
    )
    .addOption(
      new Option("--batch-size <size>", "largest batch sent in one request (e.g. 256KiB, 1MiB)")
        .default(DEFAULT_BATCH, "256KiB")
        .argParser(parseSize),
    )
    .option("--json", "print a JSON summary on stdout")
    .action((stream: string, data: string | undefined, flags: AppendFlags) => runVerb(() => append(stream, data, flags)));
}

interface Summary {
  url: string;
  messages: number;
  bytes: number;
  resumed: boolean;
}

async function append(name: string, data: string | undefined, flags: AppendFlags): Promise<void> {
  const where = target(name, flags);
  if (data !== undefined && flags.file.length > 0) {
    throw new CliError(EXIT.usage, "give the data either as an argument or with --file, not both");
  }
  if (flags.batchSize < 1) throw new CliError(EXIT.usage, "--batch-size must be at least 1 byte");
  if (data === undefined && flags.file.length === 0 && process.stdin.isTTY) {
    throw new CliError(EXIT.usage, "no data: give it as an argument, with --file, or on standard input");
  }
  // Inputs are checked before the server is asked anything.
  const source = data === undefined ? openInputs(flags.file) : null;
  const handle = new DurableStream({ url: where.url, headers: where.headers, batching: false });
  const head = await handle.head();
  if (!head.exists) throw new CliError(EXIT.notFound, `not found: ${where.url}`);
  if (head.streamClosed) throw new CliError(EXIT.conflict, `stream is closed: ${where.url}`);
  const contentType = flags.contentType ?? head.contentType ?? "application/octet-stream";
  const json = isJsonContentType(contentType);
  if (flags.jsonLines && !json) {
    throw new CliError(EXIT.conflict, `--json-lines needs a JSON stream; ${where.url} is ${mediaType(contentType)}`);
  }

  let summary: Summary;
  if (data !== undefined) {
    const text = flags.newline ? `${data}\n` : data;
    if (flags.jsonLines) summary = await appendLines(where, handle, contentType, text);
    else summary = await appendWhole(where, handle, contentType, json, Buffer.from(text));
  } else {
    if (!source) throw new Error("unreachable: no input source");
    if (json && !flags.jsonLines) summary = await appendWhole(where, handle, contentType, json, await readAll(source));
    else summary = await appendRecords(where, handle, contentType, source, flags);
  }
  if (flags.json) await writeOut(`${JSON.stringify(summary)}\n`);
}

/** One request with the data as its body (a JSON array appends each element). */
async function appendWhole(where: Target, handle: DurableStream, contentType: string, json: boolean, body: Buffer): Promise<Summary> {
  if (body.length === 0) throw new CliError(EXIT.usage, "nothing to append: the data is empty");
  let messages = 1;
  if (json) {
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw new CliError(EXIT.usage, `not valid JSON (${(error as Error).message}); use --json-lines for one message per line`);
    }
    if (Array.isArray(value)) {
      if (value.length === 0) throw new CliError(EXIT.usage, "nothing to append: the JSON array is empty");
      messages = value.length;
    }
  }
  await handle.appendStream(singleChunk(body), { contentType });
  return { url: where.url, messages, bytes: body.length, resumed: false };
}

async function* singleChunk(body: Uint8Array): AsyncGenerator<Uint8Array> {
  yield body;
}

/** The data argument with --json-lines: its lines as one request of JSON messages. */
async function appendLines(where: Target, handle: DurableStream, contentType: string, text: string): Promise<Summary> {
  const records: InputRecord[] = [];
  for await (const record of splitRecords(singleChunk(Buffer.from(text)), 0, { jsonLines: true, maxRecordBytes: Infinity })) {
    records.push(record);
  }
  if (records.length === 0) throw new CliError(EXIT.usage, "nothing to append: the data has no lines");
  const messages = checkJson({ records, bytes: 0, from: 0, to: 0 }, 0);
  const body = Buffer.from(`[${messages.join(",")}]`);
  await handle.appendStream(singleChunk(body), { contentType });
  return { url: where.url, messages: messages.length, bytes: Buffer.byteLength(text), resumed: false };
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

function checkJson(batch: Batch, messagesBefore: number): string[] {
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
async function appendRecords(
  where: Target,
  handle: DurableStream,
  contentType: string,
  source: InputSource,
  flags: AppendFlags,
): Promise<Summary> {
  const jsonLines = flags.jsonLines === true;
  const headHash = await source.headHash();
  const statePath = stateFilePath(flags.stateDir, where.url, source.key, headHash);
  if (!flags.resume) removeState(statePath);
  const saved = flags.resume ? loadState(statePath) : null;
  if (saved && (saved.url !== where.url || saved.input !== source.key || saved.headHash !== headHash)) {
    throw new CliError(EXIT.usage, `the input differs from the interrupted run recorded in ${statePath}; use --no-resume to start over`);
  }
  if (saved && saved.jsonLines !== jsonLines) {
    throw new CliError(
      EXIT.usage,
      `the interrupted run ${saved.jsonLines ? "used" : "did not use"} --json-lines; repeat it the same way, or use --no-resume`,
    );
  }
  let state: AppendState = saved ?? {
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
    if (error instanceof CliError) throw error;
    const described = describeError(error, where.url);
    throw new CliError(described.exitCode, `${described.message} (run the same command again to resume)`);
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
  removeState(statePath);
  return {
    url: where.url,
    messages: state.ackedMessages - startMessages,
    bytes: state.ackedBytes - startBytes,
    resumed: saved !== null,
  };
}
