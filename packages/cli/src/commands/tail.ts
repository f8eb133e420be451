import { stream } from "@rill/client";
import { Command, Option } from "commander";
import { target, withClientOptions, type ClientFlags } from "../common.js";
import { consume, printMode, withReadOptions, type ReadFlags } from "../reading.js";
import { runVerb } from "../run.js";

interface TailFlags extends ClientFlags, ReadFlags {
  offset: string;
  live: "sse" | "long-poll";
}

export function tailCommand(): Command {
  return withReadOptions(
    withClientOptions(new Command("tail"))
      .description(
        "Follow a stream live, like tail -f: print new data as it is appended.\n" +
          "Starts at the current end (now) unless --offset says otherwise; stops on\n" +
          "Ctrl-C (exit 0) or when the stream is closed (exit 0).",
      )
      .argument("<stream>", "stream name (resolved against --server) or full URL")
      .option("-o, --offset <offset>", "where to start: now, -1 (the beginning), or an offset from an earlier read", "now")
      .addOption(new Option("--live <mode>", "how to wait for new data").choices(["sse", "long-poll"]).default("sse")),
  ).action((name: string, flags: TailFlags) => runVerb(() => tail(name, flags)));
}

async function tail(name: string, flags: TailFlags): Promise<void> {
  const where = target(name, flags);
  const mode = printMode(flags);
  const abort = new AbortController();
  const response = await stream({
    url: where.url,
    headers: where.headers,
    offset: flags.offset,
    live: flags.live,
    signal: abort.signal,
  });
  const stopped = new Promise<"interrupted">((resolve) => {
    const stop = () => resolve("interrupted");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const outcome = await Promise.race([consume(response, mode, { offsets: flags.offsets === true, stopAtUpToDate: false }), stopped]);
  if (outcome === "interrupted") {
    response.cancel();
    abort.abort();
    return;
  }
  if (outcome.streamClosed && flags.offsets) process.stderr.write("stream closed\n");
}
