import { DurableStream } from "@rill/client";
import { Command } from "commander";
import { target, withClientOptions, writeOut, type ClientFlags } from "../common.js";
import { FAIL_FAST } from "../connection.js";
import { runVerb } from "../run.js";

interface DeleteFlags extends ClientFlags {
  json?: boolean;
}

export function deleteCommand(): Command {
  return withClientOptions(new Command("delete"))
    .description("Delete a stream and everything in it (exit 2 if there is no such stream)")
    .argument("<stream>", "stream name (resolved against --server) or full URL")
    .option("--json", "print the result as JSON")
    .action((name: string, flags: DeleteFlags) => runVerb(() => remove(name, flags)));
}

async function remove(name: string, flags: DeleteFlags): Promise<void> {
  const where = target(name, flags);
  await DurableStream.delete({ url: where.url, headers: where.headers, backoffOptions: FAIL_FAST });
  if (flags.json) await writeOut(`${JSON.stringify({ url: where.url, deleted: true })}\n`);
  else await writeOut(`deleted ${where.url}\n`);
}
