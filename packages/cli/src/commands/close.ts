import { DurableStream } from "@rill/client";
import { isJsonContentType } from "@rill/protocol";
import { Command, Option } from "commander";
import { target, withClientOptions, writeOut, type ClientFlags } from "../common.js";
import { FAIL_FAST } from "../connection.js";
import { CliError, EXIT } from "../errors.js";
import { openInputs, readAll } from "../input.js";
import { runVerb } from "../run.js";

interface CloseFlags extends ClientFlags {
  file?: string;
  json?: boolean;
}

export function closeCommand(): Command {
  return withClientOptions(new Command("close"))
    .description(
      "Close a stream: readers see its end and nothing more can be appended.\n" +
        "An optional final message is appended in the same request. Closing a closed\n" +
        "stream again succeeds, unless a final message is given (exit 3).",
    )
    .argument("<stream>", "stream name (resolved against --server) or full URL")
    .argument("[data]", "final message to append while closing")
    .addOption(new Option("-f, --file <path>", "read the final message from a file (- for standard input)"))
    .option("--json", "print the result as JSON")
    .action((name: string, data: string | undefined, flags: CloseFlags) => runVerb(() => close(name, data, flags)));
}

async function close(name: string, data: string | undefined, flags: CloseFlags): Promise<void> {
  const where = target(name, flags);
  if (data !== undefined && flags.file !== undefined) {
    throw new CliError(EXIT.usage, "give the final message either as an argument or with --file, not both");
  }
  let body: Uint8Array | undefined;
  if (data !== undefined) body = Buffer.from(data);
  else if (flags.file !== undefined) body = await readAll(openInputs([flags.file]));
  const handle = new DurableStream({ url: where.url, headers: where.headers, backoffOptions: FAIL_FAST, batching: false });
  const head = await handle.head();
  if (!head.exists) throw new CliError(EXIT.notFound, `not found: ${where.url}`);
  if (body !== undefined && body.length === 0) throw new CliError(EXIT.usage, "the final message is empty");
  if (body !== undefined && isJsonContentType(head.contentType)) {
    try {
      JSON.parse(Buffer.from(body).toString("utf8"));
    } catch (error) {
      throw new CliError(EXIT.usage, `the final message is not valid JSON (${(error as Error).message})`);
    }
  }
  const result = await handle.close(body === undefined ? undefined : { body });
  if (flags.json) await writeOut(`${JSON.stringify({ url: where.url, finalOffset: result.finalOffset })}\n`);
  else await writeOut(`closed ${where.url} at offset ${result.finalOffset}\n`);
}
