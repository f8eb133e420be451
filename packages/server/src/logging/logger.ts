import { createRequire } from "node:module";
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * The process's logger. Servers, stores and subscriptions log through
 * `log()`, so a module needs one import to log an event; `rill serve` (or
 * `startServer({ logger })`) installs the configured one. Until then, warnings
 * and errors go to stderr as JSON.
 *
 * Events carry an `event` field (`start`, `stop`, `request`, `pg_listen_lost`,
 * …) and their facts as fields; `msg` is for people. Nothing here logs request
 * bodies, tokens or Authorization headers; the redaction list is a second
 * line of defence for fields a caller might add by mistake.
 */
let current: Logger | null = null;

export function log(): Logger {
  return (current ??= createLogger({ level: "warn", destination: 2 }));
}

export function setLogger(logger: Logger): void {
  current = logger;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines (pino-pretty) instead of JSON; for a terminal. */
  pretty?: boolean;
  /** File descriptor to write to (default 1, stdout), or a stream (tests). */
  destination?: number | NodeJS.WritableStream;
}

const REDACT = {
  paths: ["authorization", "token", "*.authorization", "*.token", "headers.authorization", "req.headers.authorization", "body"],
  censor: "[redacted]",
};

export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, redact: REDACT };
  const destination = options.destination ?? 1;
  if (options.pretty) {
    // Loaded only for a terminal; synchronous, so lines come out in order with the banner.
    const pretty = requirePretty();
    return pino(
      base,
      pretty({
        colorize: true,
        sync: true,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname",
        singleLine: true,
        destination: typeof destination === "number" ? destination : undefined,
      }),
    );
  }
  return pino(base, typeof destination === "number" ? pino.destination({ dest: destination, sync: true }) : destination);
}

type PrettyFactory = (options: Record<string, unknown>) => NodeJS.WritableStream;

function requirePretty(): PrettyFactory {
  // pino-pretty is CommonJS and only needed on a terminal: loaded on demand, synchronously.
  return createRequire(import.meta.url)("pino-pretty") as PrettyFactory;
}
