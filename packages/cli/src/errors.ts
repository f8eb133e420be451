import { certificateError } from "./tls.js";
/** Exit codes of the client verbs (listed in `rill --help`). */
export const EXIT = {
  ok: 0,
  usage: 1,
  notFound: 2,
  conflict: 3,
  failure: 4,
  /** A write stopped part-way: some input was appended, re-running resumes after it. */
  partial: 5,
  /** `rill serve` could not start (port in use, data directory unusable, bad store settings). */
  cannotStart: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  usage error (bad arguments or options, unreadable input)
  2  stream not found
  3  conflict: the stream exists with other settings, is closed, has another
     content type, a producer was fenced off, or that file was already
     appended in full (append --again appends it once more)
  4  any other server or network error (one-shot verbs fail fast when the
     server cannot be reached; tail reconnects for --retry-for first)
  5  partly done: an append stopped after some input was appended; fix the
     cause and run the same command again to resume after what was appended
  6  rill serve cannot start (port in use, data directory or PostgreSQL not
     usable); the message names the flag or path to change

With --json, errors are one JSON line on stderr:
  {"error":{"message":"…","exitCode":4}}

Environment:
  RILL_URL  server that short stream names are resolved against
            (default http://127.0.0.1:4437; "logs/app" → $RILL_URL/v1/stream/logs/app)
  RILL_TOKEN  access token for servers with access control (same as --token)`;

/** An error the CLI reports as one line with a chosen exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

const CONFLICT_CODES = new Set([
  "CONFLICT",
  "CONFLICT_EXISTS",
  "CONFLICT_SEQ",
  "CONTENT_TYPE_MISMATCH",
  "STREAM_CLOSED",
  "SEQUENCE_GAP",
  "STALE_EPOCH",
]);

interface ClientErrorShape {
  code?: unknown;
  status?: unknown;
  json?: unknown;
  url?: unknown;
  message: string;
  cause?: unknown;
}

/** The server's own explanation from an error body `{"error":{"message":…}}`, if any. */
function serverMessage(error: ClientErrorShape): string | undefined {
  const json = error.json as { error?: { message?: unknown } } | undefined;
  const message = json?.error?.message;
  return typeof message === "string" && message !== "" ? message : undefined;
}

/** The deepest `cause` with a system error code (ECONNREFUSED, ENOTFOUND…), if any. */
function systemCause(error: unknown): { code: string; message: string } | undefined {
  for (let current = error, depth = 0; current && depth < 6; depth++) {
    const candidate = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof candidate.code === "string" && /^E[A-Z]+$/.test(candidate.code)) {
      return { code: candidate.code, message: String(candidate.message ?? candidate.code) };
    }
    current = candidate.cause;
  }
  return undefined;
}

/** The line for an HTTP failure; a 401 (the server wants a token, or another one) says how to give one. */
export function serverAnswered(status: number, detail: string): string {
  const hint = status === 401 ? " (pass --token <token> or set RILL_TOKEN)" : "";
  return `server answered ${status}: ${detail}${hint}`;
}

/** Maps anything thrown by a verb to an exit code and a one-line message. */
export function describeError(error: unknown, url?: string): { exitCode: ExitCode; message: string } {
  if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message };
  if (!(error instanceof Error)) return { exitCode: EXIT.failure, message: String(error) };
  const shape = error as ClientErrorShape;
  const status = typeof shape.status === "number" ? shape.status : undefined;
  const code = typeof shape.code === "string" ? shape.code : undefined;
  const where = url ?? (typeof shape.url === "string" && shape.url !== "" ? shape.url : undefined);
  const detail = serverMessage(shape);

  if (status === 404 || code === "NOT_FOUND") {
    return { exitCode: EXIT.notFound, message: `not found: ${where ?? "stream"}` };
  }
  if (code === "STREAM_CLOSED") {
    return { exitCode: EXIT.conflict, message: `stream is closed: ${where ?? ""}`.trim() };
  }
  if (status === 409 || (code !== undefined && CONFLICT_CODES.has(code))) {
    return { exitCode: EXIT.conflict, message: `conflict: ${detail ?? firstLine(error.message)}` };
  }
  if (status !== undefined) {
    return { exitCode: EXIT.failure, message: serverAnswered(status, detail ?? firstLine(error.message)) };
  }
  const certificate = certificateError(error);
  if (certificate) {
    return {
      exitCode: EXIT.failure,
      message:
        `cannot verify the TLS certificate of ${where ? originOf(where) : "the server"}: ${certificate} ` +
        "(trust its CA with RILL_CA=<ca.pem>, or use --insecure for a development certificate)",
    };
  }
  const system = systemCause(error);
  if (system || code === "NETWORK_ERROR") {
    const reason = system?.code ?? innermostMessage(error);
    return { exitCode: EXIT.failure, message: `cannot reach ${where ? originOf(where) : "the server"}: ${reason}` };
  }
  return { exitCode: EXIT.failure, message: firstLine(error.message) };
}

function innermostMessage(error: unknown): string {
  let current = error as { message?: unknown; cause?: unknown };
  for (let depth = 0; current.cause && depth < 6; depth++) current = current.cause as typeof current;
  return String(current.message ?? current);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

let contextUrl: string | undefined;

/** Names the URL a verb is working on, for error messages that would otherwise lack one. */
export function setErrorContext(url: string): void {
  contextUrl = url;
}

let jsonErrors = false;

/** With --json, errors are printed as JSON too, so a script reading them needs one parser. */
export function setJsonErrors(enabled: boolean): void {
  jsonErrors = enabled;
}

/** The one line an error is reported as: `rill: <message>`, or its JSON form under --json. */
export function errorLine(message: string, exitCode: ExitCode): string {
  if (jsonErrors) return `${JSON.stringify({ error: { message, exitCode } })}\n`;
  return `rill: ${message}\n`;
}

/** Prints the one-line message for an error and returns its exit code. */
export function report(error: unknown, url = contextUrl): ExitCode {
  const { exitCode, message } = describeError(error, url);
  process.stderr.write(errorLine(message, exitCode));
  return exitCode;
}
