import { stream } from "@rill/client";
import { Command } from "commander";
import { target, withClientOptions, type ClientFlags } from "../common.js";
import { FAIL_FAST, offsetError } from "../connection.js";
import { consume, printMode, withReadOptions, type ReadFlags } from "../reading.js";
import { runVerb } from "../run.js";

interface ReadCommandFlags extends ClientFlags, ReadFlags {
  offset: string;
}

export function readCommand(): Command {
  return withReadOptions(
    withClientOptions(new Command("read"))
      .description(
        "Print what a stream holds, from an offset up to its current end, then exit.\n" +
          "JSON streams print one message per line (--json: indented, --raw: as sent);\n" +
          "other streams print their bytes as they are.",
      )
      .argument("<stream>", "stream name (resolved against --server) or full URL")
      .option("-o, --offset <offset>", "where to start: an offset from an earlier read, or -1 for the beginning", "-1"),
  ).action((name: string, flags: ReadCommandFlags) => runVerb(() => read(name, flags)));
}

async function read(name: string, flags: ReadCommandFlags): Promise<void> {
  const where = target(name, flags);
  const mode = printMode(flags);
  const response = await stream({ url: where.url, headers: where.headers, offset: flags.offset, live: false, backoffOptions: FAIL_FAST }).catch(
    (error: unknown) => {
      throw offsetError(error, flags.offset);
    },
  );
  const result = await consume(response, mode, { offsets: flags.offsets === true, stopAtUpToDate: true });
  if (flags.offsets && result.streamClosed) process.stderr.write("stream closed\n");
}
