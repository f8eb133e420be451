import { DurableStream } from "@rill/client";
import { isJsonContentType, isValidContentType } from "@rill/protocol";
import { Command, Option } from "commander";
import { parseTimestamp, parseTtl, target, withClientOptions, writeOut, type ClientFlags } from "../common.js";
import { FAIL_FAST } from "../connection.js";
import { CliError, EXIT } from "../errors.js";
import { openInputs, readAll } from "../input.js";
import { runVerb } from "../run.js";

interface CreateFlags extends ClientFlags {
  contentType: string;
  ttl?: number;
  expiresAt?: string;
  closed?: boolean;
  data?: string;
  file?: string;
  json?: boolean;
}

export function createCommand(): Command {
  return withClientOptions(new Command("create"))
    .description(
      "Create a stream. Creating one that already exists with the same settings succeeds;\n" +
        "with other settings it is a conflict (exit 3).",
    )
    .argument("<stream>", "stream name (resolved against --server) or full URL")
    .addOption(new Option("-t, --content-type <type>", "content type of the stream").default("application/octet-stream"))
    .addOption(new Option("--ttl <ttl>", "delete the stream this long after its last write (3600, 90s, 15m, 12h, 7d)").argParser(parseTtl).conflicts("expiresAt"))
    .addOption(new Option("--expires-at <time>", "delete the stream at this RFC 3339 time").argParser(parseTimestamp))
    .option("--closed", "create it already closed (its initial data is then all it will hold)")
    .addOption(new Option("-d, --data <data>", "initial data").conflicts("file"))
    .option("-f, --file <path>", "read the initial data from a file (- for standard input)")
    .option("--json", "print the result as JSON")
    .action((stream: string, flags: CreateFlags) => runVerb(() => create(stream, flags)));
}

async function create(name: string, flags: CreateFlags): Promise<void> {
  const where = target(name, flags);
  if (!isValidContentType(flags.contentType)) throw new CliError(EXIT.usage, `not a content type: "${flags.contentType}"`);
  let body: Uint8Array | undefined;
  if (flags.data !== undefined) body = Buffer.from(flags.data);
  else if (flags.file !== undefined) body = await readAll(openInputs([flags.file]));
  if (body !== undefined && body.length === 0) body = undefined;
  if (body !== undefined && isJsonContentType(flags.contentType)) {
    try {
      JSON.parse(Buffer.from(body).toString("utf8"));
    } catch (error) {
      throw new CliError(EXIT.usage, `the initial data is not valid JSON (${(error as Error).message})`);
    }
  }
  const handle = await DurableStream.create({
    url: where.url,
    headers: where.headers,
    backoffOptions: FAIL_FAST,
    contentType: flags.contentType,
    ttlSeconds: flags.ttl,
    expiresAt: flags.expiresAt,
    closed: flags.closed === true,
    body,
  });
  const head = await handle.head();
  const result = {
    url: handle.url,
    contentType: head.exists ? head.contentType : flags.contentType,
    offset: head.exists ? head.offset : undefined,
    closed: head.exists ? head.streamClosed : flags.closed === true,
    ttlSeconds: head.exists ? head.ttlSeconds : flags.ttl,
    expiresAt: head.exists ? head.expiresAt : flags.expiresAt,
  };
  if (flags.json) await writeOut(`${JSON.stringify(result)}\n`);
  else await writeOut(`${handle.url}\n`);
}
