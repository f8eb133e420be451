import type { StreamResponse } from "@rill/client";
import { isJsonContentType, mediaType } from "@rill/protocol";
import type { Command } from "commander";
import { writeOut } from "./common.js";
import { CliError, EXIT } from "./errors.js";

/**
 * How `read` and `tail` print a stream:
 * - JSON streams: one compact JSON message per line (`lines`), or indented (`pretty`);
 * - `raw`: the bytes exactly as the server sent them (for JSON streams, JSON arrays);
 * - other streams: their bytes as they are.
 */
export type PrintMode = "lines" | "pretty" | "raw";

export interface ReadFlags {
  json?: boolean;
  raw?: boolean;
  offsets?: boolean;
}

/** Adds the options behind ReadFlags (--json, --raw, --offsets) to `read` or `tail`. */
export function withReadOptions(command: Command): Command {
  return command
    .option("--json", "pretty-print JSON messages")
    .option("--raw", "print the bytes exactly as the server sends them")
    .option("--offsets", "print the offset after each chunk on stderr (resume from it with --offset)");
}

export function printMode(flags: ReadFlags): PrintMode {
  if (flags.json && flags.raw) throw new CliError(EXIT.usage, "--json and --raw cannot be combined");
  return flags.raw ? "raw" : flags.json ? "pretty" : "lines";
}

export interface ConsumeResult {
  offset: string;
  streamClosed: boolean;
}

/**
 * Writes a read session to stdout until it ends: at the first up-to-date
 * response for catch-up reads, when the stream closes, or on `stop()`.
 * With `offsets`, the offset after every chunk goes to stderr, so stdout
 * stays pure data.
 */
export function consume(
  response: StreamResponse,
  mode: PrintMode,
  options: { offsets: boolean; stopAtUpToDate: boolean },
): Promise<ConsumeResult> {
  const json = isJsonContentType(response.contentType);
  if (mode === "pretty" && !json) {
    response.cancel();
    throw new CliError(EXIT.usage, `--json needs a JSON stream; this one is ${mediaType(response.contentType) || "untyped"}`);
  }
  return new Promise<ConsumeResult>((resolve, reject) => {
    let offset = response.offset;
    let settled = false;
    let unsubscribe = () => {};
    const finish = (streamClosed: boolean) => {
      if (settled) return;
      settled = true;
      unsubscribe();
      response.cancel();
      resolve({ offset, streamClosed });
    };
    const after = async (meta: { offset: string; upToDate: boolean; streamClosed: boolean }) => {
      offset = meta.offset;
      if (options.offsets) process.stderr.write(`next offset: ${meta.offset}\n`);
      if (meta.streamClosed) finish(true);
      else if (options.stopAtUpToDate && meta.upToDate) finish(false);
    };
    unsubscribe =
      json && mode !== "raw"
        ? response.subscribeJson(async (batch) => {
            if (settled) return;
            if (batch.items.length > 0) {
              const text = batch.items.map((item) => (mode === "pretty" ? JSON.stringify(item, null, 2) : JSON.stringify(item))).join("\n");
              await writeOut(`${text}\n`);
            }
            await after(batch);
          })
        : response.subscribeBytes(async (chunk) => {
            if (settled) return;
            if (chunk.data.length > 0) await writeOut(chunk.data);
            await after(chunk);
          });
    response.closed.then(
      () => finish(response.streamClosed),
      (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(error);
      },
    );
  });
}
