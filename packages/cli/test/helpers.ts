import { startServer, type RunningServer } from "@rill/server";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI: tests run it as users do, as a child process. */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed. Without it stdin is empty (not a terminal). */
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** An environment without the caller's RILL_* settings, plus the given ones. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("RILL_")) env[key] = value;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export function spawnCli(args: string[], options: CliOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.on("error", () => undefined);
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  return child;
}

export function collect(child: ChildProcess, timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`rill ${child.spawnargs.slice(2).join(" ")} did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return collect(spawnCli(args, options), options.timeoutMs);
}

/**
 * Resolves once `predicate` holds for the text a child has printed so far on
 * stdout; rejects at once, with what it wrote to stderr, if the child exits
 * first, so a server that failed to start is reported as such.
 */
export function waitForOutput(child: ChildProcess, predicate: (stdout: string) => boolean, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for output; got: ${JSON.stringify(seen)}; stderr: ${JSON.stringify(stderr)}`)), timeoutMs);
    child.stderr?.on("data", (chunk: Buffer | string) => (stderr += chunk.toString()));
    // "close", not "exit": its output is all read by then (a settled promise ignores the reject).
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before the output came; got: ${JSON.stringify(seen)}; stderr: ${JSON.stringify(stderr)}`));
    });
    child.stdout!.on("data", (chunk: Buffer | string) => {
      seen += chunk.toString();
      if (predicate(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
  });
}

export interface TestServer {
  server: RunningServer;
  url: string;
  stateDir: string;
  /** Env for the CLI: this server as RILL_URL and a private resume-state directory. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const server = await startServer({ port: 0, memory: true, longPollTimeoutMs: 2000 });
  const stateDir = mkdtempSync(join(tmpdir(), "rill-cli-state-"));
  return {
    server,
    url: server.url,
    stateDir,
    env: { RILL_URL: server.url, RILL_STATE_DIR: stateDir },
    async stop() {
      await server.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export async function httpText(url: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, init);
  return { status: response.status, text: await response.text(), headers: response.headers };
}
