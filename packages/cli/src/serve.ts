import { createLogger, DEFAULTS, LOG_LEVELS, startServer, type Logger, type LogLevel, type ServerOptions } from "@rill/server";
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
  pgStatementTimeout: number;
  webhookTimeout: number;
  basePath: string;
  longPollTimeout: number;
  maxBody: number;
  console: boolean;
  metrics: boolean;
  metricsPort?: number;
  logLevel: LogLevel;
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
    .option("--no-console", "do not serve the web console at /console/")
    .addOption(new Option("--no-metrics", "do not record or serve Prometheus metrics at /metrics"))
    .addOption(
      new Option("--metrics-port <port>", "serve /metrics (and /healthz, /readyz) on this private port instead of the main one")
        .env("RILL_METRICS_PORT")
        .argParser(parsePort),
    )
    .addOption(
      new Option("--log-level <level>", "least severe log events written (JSON lines; pretty on a terminal)")
        .choices(LOG_LEVELS)
        .env("RILL_LOG_LEVEL")
        .default("info"),
    )
    .action(async (flags: ServeFlags, command: Command) => {
      await serve(flags, command.getOptionValueSource("dataDir") !== "default");
    });
}

async function serve(flags: ServeFlags, dataDirGiven: boolean): Promise<void> {
  if (!flags.metrics && flags.metricsPort !== undefined) {
    throw new Error("--metrics-port serves metrics, which --no-metrics turns off: drop one of them");
  }
  const terminal = process.stdout.isTTY === true;
  const logger = createLogger({ level: flags.logLevel, pretty: terminal });
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
    extraRoutes: flags.console ? [consoleRoute({ streamsPath: flags.basePath.replace(/\/+$/, "") })] : [],
    consolePath: flags.console ? "/console/" : undefined,
    metrics: flags.metrics,
    metricsPort: flags.metricsPort,
    logger,
  };
  const server = await startServer(options);
  const storage =
    options.store === "memory"
      ? "memory (nothing is kept after exit)"
      : options.store === "postgres"
        ? `postgres at ${redact(flags.databaseUrl ?? "")} (streams and subscriptions)`
        : `sqlite in ${options.dataDir}`;
  const metricsUrl = !flags.metrics ? null : `${server.metricsUrl ?? server.url}/metrics`;
  announce(logger, terminal, {
    url: server.url,
    streams: `${server.streamsUrl}/<name>`,
    console: flags.console ? `${server.url}/console/` : null,
    metrics: metricsUrl,
    storage,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ event: "stop_forced", signal }, `${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    const startedAt = Date.now();
    logger.info({ event: "stopping", signal }, `${signal} received, finishing in-flight work…`);
    server.close().then(
      () => {
        logger.info({ event: "stopped", duration_ms: Date.now() - startedAt }, "stopped cleanly");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ event: "stop_failed", err: error }, `shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

interface StartFacts {
  url: string;
  streams: string;
  console: string | null;
  metrics: string | null;
  storage: string;
}

/**
 * Says where the server is. On a terminal: the human banner (the lines a
 * person reads). Otherwise: one `start` event, written even when the log
 * level hides info (supervisors and tests wait for it) unless it is silent.
 */
function announce(logger: Logger, terminal: boolean, facts: StartFacts): void {
  if (terminal) {
    const optional = (label: string, value: string | null) => (value ? `  ${label}: ${value}\n` : "");
    process.stdout.write(
      `rill listening on ${facts.url}\n  streams: ${facts.streams}\n${optional("console", facts.console)}` +
        `${optional("metrics", facts.metrics)}  storage: ${facts.storage}\n`,
    );
    return;
  }
  if (logger.level === "silent") return;
  logger.child({}, { level: "info" }).info({ event: "start", ...facts, node: process.version }, `rill listening on ${facts.url}`);
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
