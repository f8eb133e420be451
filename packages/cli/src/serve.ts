import { createLogger, DEFAULTS, LOG_LEVELS, parseRetentionRule, startServer, type Logger, type LogLevel, type RetentionRule, type ServerOptions } from "@rill/server";
import { Command, InvalidArgumentError, Option } from "commander";
import { resolve } from "node:path";
import { consoleRoute } from "./console-route.js";
import { addLimitOptions, limitsFrom } from "./serve-limits.js";
import { CliError, EXIT, report } from "./errors.js";
import { explainStartupError } from "./startup-errors.js";
import { tlsSource, type ServeTlsFlags } from "./serve-tls.js";
import { parseCount, parseDuration, parsePort, parseSize } from "./units.js";

interface ServeFlags extends ServeTlsFlags {
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
  maxRead: number;
  readChunk?: number;
  retention: RetentionRule[];
  compactionLag: number;
  console: boolean;
  jwtSecret?: string;
  jwks?: string;
  jwtAudience?: string;
  jwtIssuer?: string;
  tokens?: string;
  publicScope?: string;
  corsOrigin?: string;
  metrics: boolean;
  metricsPort?: number;
  logLevel: LogLevel;
  compression: boolean;
  maxConcurrentStreams: number;
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
    .addOption(
      new Option(
        "--retention <rule>",
        "default retention for streams matching a pattern, PATTERN=AGE,SIZE (e.g. 'logs/**=7d,10GiB'; repeatable, the most specific pattern wins)",
      )
        .default([], "none")
        .argParser(collectRetentionRule),
    )
    .addOption(
      new Option("--compaction-lag <duration>", "how old data must be before key compaction rewrites it (e.g. 30s, 5m)")
        .env("RILL_COMPACTION_LAG")
        .default(DEFAULTS.compactionLagMs, "30s")
        .argParser(parseDuration),
    )
    .addOption(new Option("--tls-cert <pem>", "serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate chain; reloaded on SIGHUP").env("RILL_TLS_CERT"))
    .addOption(new Option("--tls-key <pem>", "private key of --tls-cert").env("RILL_TLS_KEY"))
    .addOption(
      new Option("--tls-self-signed", "serve HTTPS with a development certificate for localhost, made once in --data-dir").default(false),
    )
    .addOption(new Option("--h2c", "serve cleartext HTTP/2 (prior knowledge), for a TLS-terminating proxy in front").default(false))
    .addOption(
      new Option("--max-concurrent-streams <count>", "HTTP/2 streams (requests, live readers) one connection may have open")
        .env("RILL_MAX_CONCURRENT_STREAMS")
        .default(DEFAULTS.maxConcurrentStreams)
        .argParser(parseCount),
    )
    .option("--no-compression", "never compress catch-up responses (by default text and JSON are sent br/gzip when accepted)")
    .option("--no-console", "do not serve the web console at /console/")
    .addOption(new Option("--jwt-secret <secret>", "accept Bearer JWTs signed HS256 with this secret (32+ bytes)").env("RILL_JWT_SECRET"))
    .addOption(new Option("--jwks <url-or-file>", "accept RS256/ES256/EdDSA JWTs verified against this JWK Set").env("RILL_JWKS"))
    .addOption(new Option("--jwt-audience <aud>", "JWTs must name this audience (aud)").env("RILL_JWT_AUDIENCE"))
    .addOption(new Option("--jwt-issuer <iss>", "JWTs must come from this issuer (iss)").env("RILL_JWT_ISSUER"))
    .addOption(new Option("--tokens <file>", "static API tokens: one \"sha256:<hash> <scopes>\" line each (rill token create)").env("RILL_TOKENS"))
    .addOption(new Option("--public-scope <scopes>", 'what requests without a token may do, e.g. "read:public/**"').env("RILL_PUBLIC_SCOPE"))
    .addOption(new Option("--cors-origin <origins>", "origins browsers may call from: * (default) or a comma-separated list").env("RILL_CORS_ORIGIN"))
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
    );
  return addLimitOptions(command).action(async (flags: ServeFlags, self: Command) => {
    ignoreClosedOutput();
    try {
      await serve(flags, self.getOptionValueSource("dataDir") !== "default");
    } catch (error) {
      process.exit(report(error));
    }
  });
}

async function serve(flags: ServeFlags, dataDirGiven: boolean): Promise<void> {
  if (!flags.metrics && flags.metricsPort !== undefined) {
    throw new CliError(EXIT.usage, "--metrics-port serves metrics, which --no-metrics turns off: drop one of them");
  }
  const terminal = process.stdout.isTTY === true;
  const logger = createLogger({ level: flags.logLevel, pretty: terminal });
  const store = flags.store ?? (flags.memory ? "memory" : "sqlite");
  if (store === "postgres" && !flags.databaseUrl) {
    throw new CliError(EXIT.usage, "--store postgres needs --database-url <url> (or DATABASE_URL), e.g. postgres://user@127.0.0.1:5432/rill");
  }
  // Servers sharing PostgreSQL keep everything there (streams and subscriptions) and
  // nothing on local disk unless --data-dir is given; several of them may run in one directory.
  const dataDir = store === "postgres" && !dataDirGiven ? undefined : resolve(flags.dataDir);
  const tls = tlsSource(flags, resolve(flags.dataDir));
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
    maxReadBytes: flags.maxRead,
    readChunkBytes: flags.readChunk ?? 0,
    limits: limitsFrom(flags as unknown as Record<string, unknown>),
    retention: flags.retention,
    compactionLagMs: flags.compactionLag,
    tls: tls?.load(),
    h2c: flags.h2c,
    maxConcurrentStreams: flags.maxConcurrentStreams,
    compression: flags.compression,
    extraRoutes: flags.console ? [consoleRoute({ streamsPath: flags.basePath.replace(/\/+$/, "") })] : [],
    access: {
      jwtSecret: flags.jwtSecret,
      jwks: flags.jwks,
      audience: flags.jwtAudience,
      issuer: flags.jwtIssuer,
      tokens: flags.tokens === undefined ? undefined : resolve(flags.tokens),
      publicScope: flags.publicScope,
    },
    corsOrigin: flags.corsOrigin,
    consolePath: flags.console ? "/console/" : undefined,
    metrics: flags.metrics,
    metricsPort: flags.metricsPort,
    logger,
  };
  const accessControl = flags.jwtSecret !== undefined || flags.jwks !== undefined || flags.tokens !== undefined;
  const server = await startServer(options).catch((error: unknown) => {
    throw explainStartupError(error, { host: flags.host, port: flags.port, store, dataDir, databaseUrl: redact(flags.databaseUrl ?? "") });
  });
  const storage =
    options.store === "memory"
      ? "memory (nothing is kept after exit)"
      : options.store === "postgres"
        ? `postgres at ${redact(flags.databaseUrl ?? "")} (streams and subscriptions)`
        : `sqlite in ${options.dataDir}`;
  const metricsUrl = !flags.metrics ? null : `${server.metricsUrl ?? server.url}/metrics`;
  announce(logger, terminal, {
    url: server.url,
    protocols: server.protocols,
    streams: `${server.streamsUrl}/<name>`,
    console: flags.console ? `${server.url}/console/` : null,
    metrics: metricsUrl,
    tls: tls?.describe() ?? null,
    storage,
    access: accessControl ? describeAccess(flags) : "open (no access control)",
  });
  const warning = openServerWarning(flags.host, accessControl);
  if (warning !== null) process.stderr.write(`${warning}\n`);
  if (tls) {
    // New handshakes get the new certificate; open connections keep theirs.
    process.on("SIGHUP", () => {
      try {
        server.reloadTls(tls.load());
        logger.info({ event: "tls-reload", tls: tls.describe() }, `TLS certificate reloaded: ${tls.describe()}`);
      } catch (error) {
        logger.error({ event: "tls-reload-failed", err: error }, `TLS certificate not reloaded, keeping the current one: ${(error as Error).message}`);
      }
    });
  }

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

/** Binding only loopback interfaces keeps other machines out, so an open server is safe there. */
function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** The start-up warning for a server other machines can reach with no access control, or null. */
export function openServerWarning(host: string, accessControl: boolean): string | null {
  if (accessControl || isLoopback(host)) return null;
  return (
    `rill: WARNING: listening on ${host} with no access control: anyone who can reach this address can create, read, ` +
    "append to and delete every stream. Configure --jwt-secret, --jwks or --tokens (see docs/security.md)."
  );
}

function describeAccess(flags: ServeFlags): string {
  const kinds = [
    flags.jwtSecret !== undefined ? "HS256 JWTs" : null,
    flags.jwks !== undefined ? `JWTs from ${flags.jwks}` : null,
    flags.tokens !== undefined ? `API tokens in ${flags.tokens}` : null,
  ].filter((kind) => kind !== null);
  return `bearer tokens required (${kinds.join(", ")})${flags.publicScope ? `; without a token: ${flags.publicScope}` : ""}`;
}

function positiveSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes < 1) throw new InvalidArgumentError(`a size above zero is needed, not "${text}"`);
  return bytes;
}

interface StartFacts {
  url: string;
  /** What the port speaks, e.g. "HTTP/2 and HTTP/1.1 over TLS". */
  protocols: string;
  /** The certificate served (file or self-signed, and its SHA-256 fingerprint); null without TLS. */
  tls: string | null;
  streams: string;
  console: string | null;
  metrics: string | null;
  storage: string;
  access: string;
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
      `rill listening on ${facts.url} (${facts.protocols})\n  streams: ${facts.streams}\n${optional("console", facts.console)}` +
        `${optional("metrics", facts.metrics)}${optional("tls", facts.tls)}  storage: ${facts.storage}\n  access: ${facts.access}\n`,
    );
    return;
  }
  if (logger.level === "silent") return;
  logger.child({}, { level: "info" }).info({ event: "start", ...facts, node: process.version }, `rill listening on ${facts.url}`);
}

/** Each --retention adds a rule; a malformed one is a usage error naming the problem. */
function collectRetentionRule(value: string, previous: RetentionRule[]): RetentionRule[] {
  try {
    return [...previous, parseRetentionRule(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * `rill serve | head -1` closes the pipe after the banner; later lines (the
 * shutdown messages) must not crash the server with an unhandled EPIPE. The
 * output is simply lost, as it would be for a reader that went away.
 */
function ignoreClosedOutput(): void {
  for (const output of [process.stdout, process.stderr]) {
    output.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }
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
