import type { BackoffOptions } from "@rill/client";
import { CliError, describeError, EXIT } from "./errors.js";
import { formatDuration } from "./units.js";

/**
 * How hard a one-shot verb (read, head, create, append, close, delete) tries
 * to reach the server: two quick retries for a blip, then it fails with exit
 * 4. The client's default is to retry without limit, which is right for a
 * long-running reader and wrong for a command a person is waiting on.
 */
export const FAIL_FAST: Partial<BackoffOptions> = { maxRetries: 2, initialDelay: 100, maxDelay: 400 };

/**
 * `tail` retries for as long as --retry-for allows, but never waits more
 * than two seconds between attempts, so it is back soon after a restart.
 */
export const KEEP_TRYING: Partial<BackoffOptions> = { maxRetries: Infinity, initialDelay: 100, maxDelay: 2000 };

/**
 * A bad --offset is the user's mistake, not the server's: the server's 400
 * INVALID_OFFSET (or any 400 on the first read) becomes a usage error.
 */
export function offsetError(error: unknown, offset: string): unknown {
  const status = (error as { status?: unknown }).status;
  if (status !== 400) return error;
  const { message } = describeError(error);
  return new CliError(EXIT.usage, `invalid --offset "${offset}" (${message.replace(/^server answered 400: /, "")}); use -1, now, or an offset printed by --offsets`);
}

export interface ConnectionWatch {
  /** The fetch to give the client: it reports losing and regaining the server. */
  fetch: typeof globalThis.fetch;
  /** Resolves with the reason once the server has been unreachable for longer than retryForMs. */
  gaveUp: Promise<string>;
  stop(): void;
}

/**
 * Watches a long-running read's requests. The first failure after a success
 * prints "reconnecting" on stderr, the next success prints "reconnected";
 * when the server stays away longer than `retryForMs`, `gaveUp` resolves. A
 * server that cannot be reached at all on the first request gives up at
 * once: that is a wrong URL or a server not started, not an outage.
 */
export function watchConnection(origin: string, retryForMs: number, signal: AbortSignal): ConnectionWatch {
  let connected = false;
  let downSince: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let giveUp: (reason: string) => void = () => {};
  const gaveUp = new Promise<string>((resolve) => (giveUp = resolve));

  const failed = (reason: string) => {
    if (!connected) {
      giveUp(`cannot reach ${origin}: ${reason}`);
      return;
    }
    if (downSince !== null) return;
    downSince = Date.now();
    process.stderr.write(`rill: lost ${origin} (${reason}); reconnecting, for up to ${formatDuration(retryForMs)} (--retry-for)…\n`);
    timer = setTimeout(() => giveUp(`gave up after ${formatDuration(retryForMs)} without reaching ${origin}: ${reason}`), retryForMs);
  };
  const succeeded = () => {
    connected = true;
    if (downSince === null) return;
    clearTimeout(timer);
    process.stderr.write(`rill: reconnected to ${origin} after ${formatDuration(Date.now() - downSince)}\n`);
    downSince = null;
  };

  const watched: typeof globalThis.fetch = async (input, init) => {
    let response: Response;
    try {
      response = await globalThis.fetch(input, init);
    } catch (error) {
      if (!signal.aborted) failed(describeError(error, origin).message.replace(/^cannot reach \S+: /, ""));
      throw error;
    }
    if (response.status >= 500) failed(`server answered ${response.status}`);
    else succeeded();
    return response;
  };
  return { fetch: watched, gaveUp, stop: () => clearTimeout(timer) };
}
