import { DurableStream } from "@rill/client";
import { formatBytes, isJsonContentType, mediaType } from "@rill/protocol";
import { Command, Option } from "commander";
import { defaultStateDir } from "../append-state.js";
import { appendRecords, checkJson, singleChunk, type AppendRecordsFlags, type Summary } from "../append-records.js";
import { target, withClientOptions, writeOut, type ClientFlags, type Target } from "../common.js";
import { FAIL_FAST } from "../connection.js";
import { CliError, EXIT } from "../errors.js";
import { openInputs, readAll, splitRecords, type InputRecord } from "../input.js";
import { parseSize } from "../units.js";
import { runVerb } from "../run.js";

interface AppendFlags extends ClientFlags, AppendRecordsFlags {
  file: string[];
  contentType?: string;
  newline?: boolean;
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
    .option("--again", "append an input again that an earlier run already appended completely")
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
  const handle = new DurableStream({ url: where.url, headers: where.headers, batching: false, backoffOptions: FAIL_FAST });
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
