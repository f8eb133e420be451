import { DurableStream } from "@rill/client";
import { Command } from "commander";
import { target, withClientOptions, writeOut, type ClientFlags } from "../common.js";
import { FAIL_FAST } from "../connection.js";
import { CliError, EXIT } from "../errors.js";
import { runVerb } from "../run.js";

interface HeadFlags extends ClientFlags {
  json?: boolean;
}

export function headCommand(): Command {
  return withClientOptions(new Command("head"))
    .description("Show a stream's metadata: content type, tail offset, closed, TTL and expiry")
    .argument("<stream>", "stream name (resolved against --server) or full URL")
    .option("--json", "print the metadata as JSON")
    .action((name: string, flags: HeadFlags) => runVerb(() => head(name, flags)));
}

async function head(name: string, flags: HeadFlags): Promise<void> {
  const where = target(name, flags);
  const result = await DurableStream.head({ url: where.url, headers: where.headers, backoffOptions: FAIL_FAST });
  if (!result.exists) throw new CliError(EXIT.notFound, `not found: ${where.url}`);
  const metadata = {
    url: where.url,
    contentType: result.contentType ?? null,
    offset: result.offset ?? null,
    closed: result.streamClosed,
    ttlSeconds: result.ttlSeconds ?? null,
    expiresAt: result.expiresAt ?? null,
    etag: result.etag ?? null,
  };
  if (flags.json) {
    await writeOut(`${JSON.stringify(metadata, null, 2)}\n`);
    return;
  }
  const rows: Array<[string, string]> = [
    ["url", metadata.url],
    ["content type", metadata.contentType ?? "-"],
    ["tail offset", metadata.offset ?? "-"],
    ["closed", metadata.closed ? "yes" : "no"],
    ["ttl", metadata.ttlSeconds === null ? "-" : `${metadata.ttlSeconds}s`],
    ["expires at", metadata.expiresAt ?? "-"],
  ];
  await writeOut(rows.map(([key, value]) => `${key.padEnd(13)}${value}`).join("\n") + "\n");
}
