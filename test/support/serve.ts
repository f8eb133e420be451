/**
 * Running `rill serve` for tests as users do: the built CLI as a child
 * process. Used by the root tests and by packages/cli/test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The built CLI (run `npm run build` first). */
export const BIN = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));

/** A TCP port on 127.0.0.1 that was free a moment ago, for a server that must come back on the same port. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface ServeOptions {
  /** The child's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How long it may take to start (default 15 s). */
  timeoutMs?: number;
}

export interface Serve {
  child: ChildProcess;
  /** Where it listens, e.g. http://127.0.0.1:41234. */
  origin: string;
  /** What it wrote to stdout up to then (its start event or banner). */
  startup: string;
}

/**
 * Starts `rill serve <args>` and resolves once it has said where it listens:
 * its JSON `start` event (a child's stdout is not a terminal), or on a
 * terminal the human banner ("rill listening on …" through the "storage:"
 * line). Rejects with all it printed when it exits first or does not start
 * in time (then it is killed).
 */
export function serve(args: readonly string[], options: ServeOptions = {}): Promise<Serve> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const child = spawn(process.execPath, [BIN, "serve", ...args], { env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`rill serve did not start within ${timeoutMs / 1000}s:\n${output}`));
    }, timeoutMs);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      output += chunk;
      // The URL ends at the quote closing the JSON event's msg, or at the banner's line end (or its protocols).
      const match = /rill listening on (https?:\/\/[^\s"]+)[\s"]/.exec(stdout);
      if (match && (stdout.includes("storage:") || stdout.includes('"event":"start"'))) {
        clearTimeout(timer);
        resolve({ child, origin: match[1]!, startup: stdout });
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`rill serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}
