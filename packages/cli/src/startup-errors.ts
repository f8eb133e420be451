import { statSync } from "node:fs";
import { CliError, EXIT } from "./errors.js";

/** What `rill serve` was asked to do, for naming the flag or path behind a start-up failure. */
export interface StartupContext {
  host: string;
  port: number;
  store: "memory" | "sqlite" | "postgres";
  dataDir: string | undefined;
  /** Already redacted (no password). */
  databaseUrl: string | undefined;
}

interface SystemErrorShape {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  message?: unknown;
}

const FILE_CODES = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "EEXIST", "ENOSPC", "EISDIR"]);

/**
 * Turns a failure of startServer into one line that names the flag or path
 * and what to do, with exit code 6 ("cannot start"). The raw errors say
 * `listen EADDRINUSE`, `unable to open database file` or `EPERM … chmod`,
 * none of which tells a newcomer which setting to change.
 */
export function explainStartupError(error: unknown, context: StartupContext): CliError {
  const shape = (error ?? {}) as SystemErrorShape;
  const code = typeof shape.code === "string" ? shape.code : "";
  const message = typeof shape.message === "string" ? shape.message : String(error);
  const where = `${context.host}:${context.port}`;

  if (shape.syscall === "listen" || code === "EADDRINUSE") {
    if (code === "EADDRINUSE") {
      return fail(`port ${context.port} on ${context.host} is already in use (another rill serve?): stop it, or choose another port with --port (or PORT)`);
    }
    if (code === "EACCES") {
      return fail(`not allowed to listen on ${where}: ports below 1024 need privileges; choose another with --port (or PORT)`);
    }
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
      return fail(`cannot listen on --host ${context.host}: no such address on this machine (try 127.0.0.1, or 0.0.0.0 for every interface)`);
    }
    return fail(`cannot listen on ${where}: ${message}`);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    if (context.store === "postgres") return fail(`cannot reach PostgreSQL at ${context.databaseUrl} (--database-url): unknown host`);
    return fail(`cannot listen on --host ${context.host}: unknown host name`);
  }
  // PostgreSQL's own errors carry a five-character SQLSTATE (28000: no such role, 3D000: no such database…).
  if (context.store === "postgres" && (code === "ECONNREFUSED" || code === "ETIMEDOUT" || code === "ECONNRESET" || /^[0-9A-Z]{5}$/.test(code))) {
    return fail(`cannot use PostgreSQL at ${context.databaseUrl} (--database-url, DATABASE_URL): ${/^E[A-Z]+$/.test(code) ? code : message}`);
  }
  const sqliteProblem = code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_PERM") || /unable to open database file|readonly database/i.test(message);
  if (context.dataDir !== undefined && (sqliteProblem || FILE_CODES.has(code))) {
    return fail(`cannot use the data directory ${context.dataDir} (--data-dir, RILL_DATA_DIR): ${fileReason(code, message, shape.path, context.dataDir)}`);
  }
  return fail(message.split("\n", 1)[0] ?? message);
}

function fail(message: string): CliError {
  return new CliError(EXIT.cannotStart, message);
}

/** Why a directory cannot be used, and the fix: whose it is when it is not ours. */
function fileReason(code: string, message: string, path: unknown, dataDir: string): string {
  const subject = typeof path === "string" && path !== dataDir ? `${path}: ` : "";
  const owner = ownerNote(typeof path === "string" ? path : dataDir);
  if (code === "EROFS") return `${subject}the file system is read-only; choose another directory with --data-dir`;
  if (code === "ENOTDIR" || code === "EEXIST") return `${subject}a file is in the way of the directory; choose another path with --data-dir`;
  if (code === "ENOSPC") return `${subject}no space left on the device`;
  if (code === "EPERM" || code === "EACCES" || /unable to open|readonly/i.test(message)) {
    return `${subject}this user may not write there${owner}; fix its permissions, or choose a directory this user owns with --data-dir`;
  }
  return `${subject}${message}`;
}

/** " (it belongs to uid 1000, this is uid 65534)" when the path is someone else's. */
function ownerNote(path: string): string {
  if (typeof process.getuid !== "function") return "";
  for (let candidate = path, depth = 0; depth < 32; depth++) {
    try {
      const stat = statSync(candidate);
      return stat.uid === process.getuid() ? "" : ` (it belongs to uid ${stat.uid}, this is uid ${process.getuid()})`;
    } catch {
      const parent = candidate.replace(/\/[^/]*\/?$/, "");
      if (parent === candidate || parent === "") return "";
      candidate = parent;
    }
  }
  return "";
}
