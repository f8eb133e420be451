import { Command, InvalidArgumentError, Option } from "commander";
import { CliError, EXIT, setErrorContext } from "./errors.js";
import { encodeStreamName } from "@rill/protocol";
import { configureTls, type TlsFlags } from "./tls.js";

export const DEFAULT_SERVER = "http://127.0.0.1:4437";
const DEFAULT_BASE_PATH = "/v1/stream";

/** Options every client verb accepts. */
export interface ClientFlags extends TlsFlags {
  server: string;
  header: string[];
  token?: string;
}

/** Adds --server, --header and --token to a client verb. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(
      new Option("-s, --server <url>", "Rill server that short stream names are resolved against")
        .env("RILL_URL")
        .default(DEFAULT_SERVER),
    )
    .addOption(
      new Option("-H, --header <header>", 'extra request header "Name: value" (repeatable, e.g. for auth)')
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .default([] as string[], "none"),
    )
    .addOption(new Option("--token <token>", "access token, sent as Authorization: Bearer <token>").env("RILL_TOKEN"))
    .addOption(new Option("-k, --insecure", "accept any TLS certificate (self-signed development servers)").default(false))
    .addOption(new Option("--ca <file>", "PEM file of a CA to trust for https servers, besides the system's").env("RILL_CA"));
}

/** The request headers a verb sends: its -H headers, and the token as a bearer Authorization header. */
export function requestHeaders(flags: ClientFlags): Record<string, string> {
  const headers = parseHeaders(flags.header);
  if (flags.token !== undefined) {
    const token = flags.token.trim();
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
      throw new CliError(EXIT.usage, "not a bearer token: --token takes the token itself (letters, digits and -._~+/)");
    }
    headers.authorization = `Bearer ${token}`;
  }
  return headers;
}

/**
 * The URL under which the server keeps its streams: the server URL's own path
 * when it has one (for servers run with another --base-path), else /v1/stream.
 */
export function streamsBase(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(EXIT.usage, `not a server URL: "${server}" (expected e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(EXIT.usage, `not an http(s) server URL: "${server}"`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.origin}${path === "" ? DEFAULT_BASE_PATH : path}`;
}

/**
 * A full http(s) URL is used as it is; anything else is a stream name below
 * the server's stream namespace (`logs/app` → `<server>/v1/stream/logs/app`).
 * Characters not allowed in a URL path are percent-encoded; existing `%xx`
 * escapes are kept.
 */
export function resolveStreamUrl(target: string, server: string): string {
  if (/^https?:\/\//i.test(target)) {
    try {
      return new URL(target).href;
    } catch {
      throw new CliError(EXIT.usage, `not a valid URL: "${target}"`);
    }
  }
  const name = target.replace(/^\/+/, "");
  if (name === "") throw new CliError(EXIT.usage, "a stream name or URL is required");
  if (name.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new CliError(EXIT.usage, `not a valid stream name: "${target}" (empty, "." and ".." segments are not allowed)`);
  }
  return `${streamsBase(server)}/${encodeStreamName(name)}`;
}

/** Turns repeated `-H "Name: value"` flags into a header record. */
export function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = colon === -1 ? "" : line.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new CliError(EXIT.usage, `not a header: "${line}" (expected "Name: value")`);
    }
    headers[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** What a client verb needs to reach a stream. */
export interface Target {
  url: string;
  headers: Record<string, string>;
}

export function target(name: string, flags: ClientFlags): Target {
  const url = resolveStreamUrl(name, flags.server);
  setErrorContext(url);
  configureTls(url, flags);
  return { url, headers: requestHeaders(flags) };
}

/** Parses a TTL: a bare number is seconds; s, m, h and d suffixes are accepted. */
export function parseTtl(text: string): number {
  const match = /^\s*(\d+)\s*(s|m|h|d)?\s*$/i.exec(text);
  if (!match) throw new InvalidArgumentError(`not a TTL: "${text}" (try 3600, 90s, 15m, 12h or 7d)`);
  const factor = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? "s").toLowerCase() as "s" | "m" | "h" | "d"];
  return Number(match[1]) * factor;
}

/** Accepts an RFC 3339 timestamp and returns it normalized (UTC, milliseconds). */
export function parseTimestamp(text: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text.trim())) {
    throw new InvalidArgumentError(`not an RFC 3339 timestamp: "${text}" (e.g. 2030-01-01T00:00:00Z)`);
  }
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new InvalidArgumentError(`not a valid time: "${text}"`);
  return new Date(time).toISOString();
}

/** Writes to stdout and waits for it to drain, so large outputs keep memory flat. */
export function writeOut(data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}
