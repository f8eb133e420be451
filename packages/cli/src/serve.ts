import { DEFAULTS, startServer, type ServerOptions } from "@rill/server";
import { Command, Option } from "commander";
import { resolve } from "node:path";
import { consoleRoute } from "./console-route.js";
import { parseDuration, parsePort, parseSize } from "./units.js";

interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  memory: boolean;
  store?: "memory" | "sqlite" | "postgres";
  databaseUrl?: string;
  basePath: string;
  longPollTimeout: number;
  maxBody: number;
  maxRead: number;
  readChunk?: number;
  console: boolean;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("Run a Rill server (durable SQLite store in --data-dir unless --memory or --store postgres)")
    .addOption(new Option("-p, --port <port>", "port to listen on").env("PORT").default(DEFAULTS.port).argParser(parsePort))
    .addOption(new Option("--host <host>", "interface to bind").env("RILL_HOST").default(DEFAULTS.host))
    .addOption(new Option("-d, --data-dir <dir>", "where the durable store keeps its files").env("RILL_DATA_DIR").default(DEFAULTS.dataDir))
    .addOption(new Option("--memory", "keep streams in memory only (lost on exit); same as --store memory").env("RILL_MEMORY").default(false))
    .addOption(
      new Option("--store <kind>", "where streams live: sqlite (in --data-dir), memory, or postgres (shared by several servers)")
        .choices(["memory", "sqlite", "postgres"])
        .env("RILL_STORE"),
    )
    .addOption(new Option("--database-url <url>", "PostgreSQL URL for --store postgres (postgres://user@host:5432/db)").env("DATABASE_URL"))
    .addOption(new Option("--base-path <path>", "URL path under which streams live").env("RILL_BASE_PATH").default(DEFAULTS.basePath))
    .addOption(
      new Option("--long-poll-timeout <duration>", "how long a long-poll waits for data (e.g. 20s, 1500ms)")
        .env("RILL_LONG_POLL_TIMEOUT")
        .default(DEFAULTS.longPollTimeoutMs, "20s")
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--max-body <size>", "largest accepted append or create body (e.g. 64MiB)")
        .env("RILL_MAX_BODY")
        .default(DEFAULTS.maxBodyBytes, "64MiB")
        .argParser(parseSize),
    )
    .addOption(
      new Option("--max-read <size>", "largest catch-up response; a longer read stops at a message boundary (e.g. 1GiB)")
        .env("RILL_MAX_READ")
        .default(DEFAULTS.maxReadBytes, "1GiB")
        .argParser(positiveSize),
    )
    .addOption(
      new Option("--read-chunk <size>", "cut catch-up responses at about this size, for CDNs (e.g. 4MiB); clients must follow Stream-Next-Offset")
        .env("RILL_READ_CHUNK")
        .argParser(positiveSize),
    )
    .option("--no-console", "do not serve the web console at /console/")
    .action(async (flags: ServeFlags, command: Command) => {
      await serve(flags, command.getOptionValueSource("dataDir") !== "default");
    });
}

async function serve(flags: ServeFlags, dataDirGiven: boolean): Promise<void> {
  const store = flags.store ?? (flags.memory ? "memory" : "sqlite");
  // Servers sharing PostgreSQL keep nothing on local disk unless --data-dir says
  // where (their subscriptions, which are per server); several of them may run
  // in one directory.
  const dataDir = store === "postgres" && !dataDirGiven ? undefined : resolve(flags.dataDir);
  const options: ServerOptions = {
    port: flags.port,
    host: flags.host,
    memory: flags.memory,
    store,
    databaseUrl: flags.databaseUrl,
    dataDir,
    basePath: flags.basePath,
    longPollTimeoutMs: flags.longPollTimeout,
    maxBodyBytes: flags.maxBody,
    maxReadBytes: flags.maxRead,
    readChunkBytes: flags.readChunk ?? 0,
    extraRoutes: flags.console ? [consoleRoute({ streamsPath: flags.basePath.replace(/\/+$/, "") })] : [],
  };
  const server = await startServer(options);
  const storage =
    options.store === "memory"
      ? "memory (nothing is kept after exit)"
      : options.store === "postgres"
        ? `postgres at ${redact(flags.databaseUrl ?? "")}; subscriptions ${dataDir ? `in ${dataDir}` : "in memory"}`
        : `sqlite in ${options.dataDir}`;
  const consoleLine = flags.console ? `  console: ${server.url}/console/\n` : "";
  process.stdout.write(`rill listening on ${server.url}\n  streams: ${server.streamsUrl}/<name>\n${consoleLine}  storage: ${storage}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`rill: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`rill: ${signal} received, finishing in-flight work…\n`);
    server.close().then(
      () => {
        process.stdout.write("rill: stopped cleanly\n");
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`rill: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

function positiveSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes < 1) throw new Error(`a size above zero is needed, not "${text}"`);
  return bytes;
}

/** The URL without its password, for the start-up banner. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}
