import { stream } from "@rill/client";
import { Command, Option } from "commander";
import { target, withClientOptions, type ClientFlags } from "../common.js";
import { KEEP_TRYING, offsetError, watchConnection } from "../connection.js";
import { CliError, EXIT } from "../errors.js";
import { consume, printMode, withReadOptions, type ReadFlags } from "../reading.js";
import { runVerb } from "../run.js";
import { parseDuration } from "../units.js";

interface TailFlags extends ClientFlags, ReadFlags {
  offset: string;
  live: "sse" | "long-poll";
  retryFor: number;
}

export function tailCommand(): Command {
  return withReadOptions(
    withClientOptions(new Command("tail"))
      .description(
        "Follow a stream live, like tail -f: print new data as it is appended.\n" +
          "Starts at the current end (now) unless --offset says otherwise; stops on\n" +
          "Ctrl-C (exit 0) or when the stream is closed (exit 0). When the server goes\n" +
          "away it says so on stderr and reconnects, resuming where it stopped, for up\n" +
          "to --retry-for (then exit 4).",
      )
      .argument("<stream>", "stream name (resolved against --server) or full URL")
      .option("-o, --offset <offset>", "where to start: now, -1 (the beginning), or an offset from an earlier read", "now")
      .addOption(new Option("--live <mode>", "how to wait for new data").choices(["sse", "long-poll"]).default("sse"))
      .addOption(
        new Option("--retry-for <duration>", "how long to keep reconnecting to a server that went away (e.g. 30s, 10m)")
          .env("RILL_RETRY_FOR")
          .default(5 * 60_000, "5m")
          .argParser(parseDuration),
      ),
  ).action((name: string, flags: TailFlags) => runVerb(() => tail(name, flags)));
}

async function tail(name: string, flags: TailFlags): Promise<void> {
  const where = target(name, flags);
  const mode = printMode(flags);
  const abort = new AbortController();
  const connection = watchConnection(new URL(where.url).origin, flags.retryFor, abort.signal);
  const gaveUp = connection.gaveUp.then((reason) => ({ gaveUp: reason }));
  const opened = stream({
    url: where.url,
    headers: where.headers,
    offset: flags.offset,
    live: flags.live,
    signal: abort.signal,
    fetch: connection.fetch,
    backoffOptions: KEEP_TRYING,
  }).catch((error: unknown) => {
    throw offsetError(error, flags.offset);
  });
  const first = await Promise.race([opened, gaveUp]);
  if ("gaveUp" in first) {
    abort.abort();
    throw new CliError(EXIT.failure, first.gaveUp);
  }
  const response = first;
  const stopped = new Promise<"interrupted">((resolve) => {
    const stop = () => resolve("interrupted");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const outcome = await Promise.race([consume(response, mode, { offsets: flags.offsets === true, stopAtUpToDate: false }), stopped, gaveUp]);
  connection.stop();
  if (outcome === "interrupted" || "gaveUp" in outcome) {
    response.cancel();
    abort.abort();
    if (outcome !== "interrupted") throw new CliError(EXIT.failure, outcome.gaveUp);
    return;
  }
  if (outcome.streamClosed && flags.offsets) process.stderr.write("stream closed\n");
}
