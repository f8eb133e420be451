import { Command, Option } from "commander";
import { formatBytes, type ListedStream, type ListedStreamPage } from "@rill/protocol";
import { requestHeaders, streamsBase, withClientOptions, writeOut, type ClientFlags } from "../common.js";
import { configureTls } from "../tls.js";
import { parseCount } from "../units.js";
import { CliError, EXIT, serverAnswered } from "../errors.js";
import { runVerb } from "../run.js";

interface LsFlags extends ClientFlags {
  json?: boolean;
  limit?: number;
}

const PAGE = 1000;

export function lsCommand(): Command {
  return withClientOptions(new Command("ls"))
    .description("List the streams on a Rill server (uses Rill's listing extension, not part of the protocol)")
    .argument("[prefix]", "only streams whose name starts with this")
    .option("--json", "print the streams as a JSON array")
    .addOption(
      new Option("-l, --limit <count>", "list at most this many streams").argParser(parseCount),
    )
    .action((prefix: string | undefined, flags: LsFlags) => runVerb(() => ls(prefix ?? "", flags)));
}

async function ls(prefix: string, flags: LsFlags): Promise<void> {
  const headers = requestHeaders(flags);
  const endpoint = `${streamsBase(flags.server)}/__ds/streams`;
  configureTls(endpoint, flags);
  const streams: ListedStream[] = [];
  let after: string | null = null;
  do {
    const wanted = flags.limit === undefined ? PAGE : Math.min(PAGE, flags.limit - streams.length);
    const url = new URL(endpoint);
    url.searchParams.set("prefix", prefix);
    url.searchParams.set("limit", String(wanted));
    if (after !== null) url.searchParams.set("after", after);
    const page = await fetchPage(url, headers);
    streams.push(...page.streams);
    after = page.next;
  } while (after !== null && (flags.limit === undefined || streams.length < flags.limit));

  if (flags.json) {
    await writeOut(`${JSON.stringify(streams, null, 2)}\n`);
    return;
  }
  if (streams.length === 0) {
    process.stderr.write(prefix ? `no streams start with "${prefix}"\n` : "no streams\n");
    return;
  }
  const rows = [
    ["NAME", "SIZE", "TAIL OFFSET", "CONTENT TYPE", "STATE", "EXPIRES"],
    ...streams.map((stream) => [
      stream.path,
      formatBytes(stream.bytes),
      stream.nextOffset,
      stream.contentType,
      stream.closed ? "closed" : "open",
      stream.expiresAt ?? (stream.ttlSeconds !== null ? `ttl ${stream.ttlSeconds}s` : "-"),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : column === 1 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  "),
  );
  await writeOut(`${lines.join("\n")}\n`);
}

async function fetchPage(url: URL, headers: Record<string, string>): Promise<ListedStreamPage> {
  let response: Response;
  try {
    response = await fetch(url, { headers });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new CliError(EXIT.failure, `cannot reach ${url.origin}: ${cause?.code ?? (error as Error).message}`);
  }
  const text = await response.text();
  if (response.status === 404) {
    throw new CliError(EXIT.failure, `${url.origin} does not offer the stream listing (a Rill extension)`);
  }
  if (!response.ok) {
    let message = text.slice(0, 200);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new CliError(EXIT.failure, serverAnswered(response.status, message));
  }
  return JSON.parse(text) as ListedStreamPage;
}
