import { DEFAULTS, startServer, type ServerOptions } from "@rill/server";
import { Command, Option } from "commander";
import { resolve } from "node:path";
import { consoleRoute } from "./console-route.js";
import { addLimitOptions, limitsFrom } from "./serve-limits.js";
import { parseDuration, parsePort, parseSize } from "./units.js";

interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  memory: boolean;
  store?: "memory" | "sqlite" | "postgres";
  databaseUrl?: string;
  pgStatementTimeout: number;
  webhookTimeout: number;
  basePath: string;
  longPollTimeout: number;
  maxBody: number;
  console: boolean;
}

export function serveCommand(): Command {
  const command = new Command("serve")
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
    .addOption(
      new Option("--pg-statement-timeout <duration>", "longest a PostgreSQL statement may run before the request gets 503 (e.g. 10s)")
        .env("RILL_PG_STATEMENT_TIMEOUT")
        .default(10_000, "10s")
        .argParser(parseDuration),
    )
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
      new Option("--webhook-timeout <duration>", "how long a subscription's webhook POST may take before it is retried (e.g. 10s)")
        .env("RILL_WEBHOOK_TIMEOUT")
        .default(10_000, "10s")
        .argParser(parseDuration),
    )
    .option("--no-console", "do not serve the web console at /console/");
  return addLimitOptions(command).action(async (flags: ServeFlags, self: Command) => {
    await serve(flags, self.getOptionValueSource("dataDir") !== "default");
  });
}

async function serve(flags: ServeFlags, dataDirGiven: boolean): Promise<void> {
  const store = flags.store ?? (flags.memory ? "memory" : "sqlite");
  // Servers sharing PostgreSQL keep everything there (streams and subscriptions) and
  // nothing on local disk unless --data-dir is given; several of them may run in one directory.
  const dataDir = store === "postgres" && !dataDirGiven ? undefined : resolve(flags.dataDir);
  const options: ServerOptions = {
    port: flags.port,
    host: flags.host,
    memory: flags.memory,
    store,
    databaseUrl: flags.databaseUrl,
    postgres: { statementTimeoutMs: flags.pgStatementTimeout },
    dataDir,
    basePath: flags.basePath,
    longPollTimeoutMs: flags.longPollTimeout,
    maxBodyBytes: flags.maxBody,
    subscriptions: { webhookTimeoutMs: flags.webhookTimeout },
    limits: limitsFrom(flags as unknown as Record<string, unknown>),
    extraRoutes: flags.console ? [consoleRoute({ streamsPath: flags.basePath.replace(/\/+$/, "") })] : [],
  };
  const server = await startServer(options);
  const storage =
    options.store === "memory"
      ? "memory (nothing is kept after exit)"
      : options.store === "postgres"
        ? `postgres at ${redact(flags.databaseUrl ?? "")} (streams and subscriptions)`
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
