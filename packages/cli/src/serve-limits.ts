import { DEFAULT_LIMITS, type ServerLimits } from "@rill/server";
import { Option, type Command } from "commander";
import { parseDuration, parseSize } from "./units.js";

interface LimitFlag {
  flag: string;
  env: string;
  key: keyof ServerLimits;
  kind: "count" | "size" | "duration";
  what: string;
  /** 0 turns the limit off (otherwise it must be positive). */
  zeroOff?: false;
}

/** `rill serve` flags for the server's limits (docs/security.md); each has an env var of the same name. */
const LIMIT_FLAGS: readonly LimitFlag[] = [
  { flag: "max-connections", env: "RILL_MAX_CONNECTIONS", key: "maxConnections", kind: "count", what: "open connections in total (past it: 503)" },
  { flag: "max-connections-per-ip", env: "RILL_MAX_CONNECTIONS_PER_IP", key: "maxConnectionsPerIp", kind: "count", what: "open connections from one client address (past it: 429)" },
  { flag: "max-readers-per-stream", env: "RILL_MAX_READERS_PER_STREAM", key: "maxReadersPerStream", kind: "count", what: "live readers (SSE, waiting long-polls) of one stream (past it: 503)" },
  { flag: "max-header-size", env: "RILL_MAX_HEADER_SIZE", key: "maxHeaderSize", kind: "size", what: "largest request head (past it: 431)", zeroOff: false },
  { flag: "max-streams", env: "RILL_MAX_STREAMS", key: "maxStreams", kind: "count", what: "streams this server holds (past it, creates get 503)" },
  { flag: "headers-timeout", env: "RILL_HEADERS_TIMEOUT", key: "headersTimeoutMs", kind: "duration", what: "time to send a complete request head (then 408)" },
  { flag: "body-timeout", env: "RILL_BODY_TIMEOUT", key: "bodyTimeoutMs", kind: "duration", what: "longest a request body may send nothing (then 408)" },
  { flag: "keep-alive-timeout", env: "RILL_KEEP_ALIVE_TIMEOUT", key: "keepAliveTimeoutMs", kind: "duration", what: "how long an idle keep-alive connection stays open", zeroOff: false },
  { flag: "max-queued-appends", env: "RILL_MAX_QUEUED_APPENDS", key: "maxQueuedAppends", kind: "count", what: "appends waiting to be committed (past it: 503)" },
  { flag: "max-queued-bytes", env: "RILL_MAX_QUEUED_BYTES", key: "maxQueuedBytes", kind: "size", what: "bytes of appends waiting to be committed (past it: 503)" },
  { flag: "max-pending-output", env: "RILL_MAX_PENDING_OUTPUT", key: "maxPendingOutputBytes", kind: "size", what: "output a slow SSE reader may have queued before it is paused and later caught up from storage", zeroOff: false },
];

function parseCount(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`not a whole number ≥ 0: "${text}"`);
  return value;
}

const PARSERS = { count: parseCount, size: parseSize, duration: parseDuration } as const;

/** Parses one limit, naming the flag in any complaint. */
function parseLimit(flag: LimitFlag, text: string): number {
  let value: number;
  try {
    value = PARSERS[flag.kind](text);
  } catch (error) {
    throw new Error(`--${flag.flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (value === 0 && flag.zeroOff === false) throw new Error(`--${flag.flag} cannot be 0 (this limit cannot be turned off)`);
  return value;
}

function shown(flag: LimitFlag): string {
  const value = DEFAULT_LIMITS[flag.key];
  if (value === 0) return "0, off";
  if (flag.kind === "duration") return value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
  if (flag.kind === "size") return value % (1024 * 1024) === 0 ? `${value / (1024 * 1024)}MiB` : value % 1024 === 0 ? `${value / 1024}KiB` : String(value);
  return String(value);
}

export function addLimitOptions(command: Command): Command {
  for (const flag of LIMIT_FLAGS) {
    command.addOption(
      new Option(`--${flag.flag} <${flag.kind === "count" ? "n" : flag.kind}>`, flag.zeroOff === false ? flag.what : `${flag.what}; 0 turns it off`)
        .env(flag.env)
        .default(DEFAULT_LIMITS[flag.key], shown(flag))
        .argParser((text: string) => parseLimit(flag, text)),
    );
  }
  return command;
}

/** The limits as parsed by commander (its attribute names are the camel-cased flags). */
export function limitsFrom(flags: Record<string, unknown>): ServerLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const flag of LIMIT_FLAGS) {
    const attribute = flag.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = flags[attribute];
    if (typeof value === "number") limits[flag.key] = value;
  }
  return limits;
}
