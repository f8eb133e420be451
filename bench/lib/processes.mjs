// Child-process management for the orchestrators: every server and every load
// generator runs in its own Node process. Children are tracked and killed when the
// orchestrator exits, fails, or is interrupted; children also exit on their own when
// their IPC channel to the orchestrator closes.
import { fork } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CEILING, POSTGRES, SERVERS } from "./common.mjs";

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT_DIR = dirname(BENCH_DIR);

const STDERR_SHOWN = 4;
const children = new Set();
const tempDirs = new Set();
let cleanupInstalled = false;

function killAll(signal = "SIGKILL") {
  for (const child of children) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function removeTempDirs() {
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

export function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", () => {
    killAll("SIGKILL");
    removeTempDirs();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      console.error(`\n[bench] ${signal}: stopping child processes`);
      killAll("SIGKILL");
      removeTempDirs();
      process.exit(130);
    });
  }
  process.on("uncaughtException", (error) => {
    console.error("[bench] fatal:", error);
    killAll("SIGKILL");
    removeTempDirs();
    process.exit(1);
  });
  process.on("unhandledRejection", (error) => {
    console.error("[bench] fatal (unhandled rejection):", error);
    killAll("SIGKILL");
    removeTempDirs();
    process.exit(1);
  });
}

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `rill-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Time a process has spent runnable but waiting for a CPU (run-queue delay), in seconds. */
export function runQueueSecondsOf(pid) {
  try {
    // /proc/<pid>/schedstat covers the main thread: "<on-cpu ns> <waiting ns> <timeslices>"
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
  } catch {
    return null;
  }
}

/** Resolves with the first IPC message matching `predicate`, rejects if the child exits first. */
function waitForMessage(child, predicate, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message?.type === "error") {
        finish();
        reject(new Error(`${what}: ${message.message}`));
      } else if (predicate(message)) {
        finish();
        resolve(message);
      }
    };
    const onExit = (code, signal) => {
      finish();
      reject(new Error(`${what}: process exited (${signal ?? code}) before answering`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${what}: no answer after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Start a server in its own process.
 * @param {keyof typeof SERVERS} name
 * @param {{ dataDir?: string, databaseUrl?: string, longPollTimeoutMs?: number, cpuProf?: string, metrics?: boolean, tls?: boolean, compression?: boolean }} options
 */
export async function startServerProcess(name, options = {}) {
  const config = name === "ceiling" ? CEILING : name === "rill-postgres" ? POSTGRES : SERVERS[name];
  if (!config) throw new Error(`unknown server ${name}`);
  let dataDir = options.dataDir;
  let ownsDir = false;
  if (config.durable && !dataDir) {
    dataDir = makeTempDir(name);
    ownsDir = true;
  }
  const spec = {
    impl: config.impl,
    store: config.store,
    dataDir,
    databaseUrl: options.databaseUrl,
    longPollTimeoutMs: options.longPollTimeoutMs ?? 20_000,
    metrics: options.metrics ?? true,
    tls: options.tls ?? false,
    compression: options.compression ?? true,
  };
  const execArgv = ["--expose-gc"];
  if (options.cpuProf) execArgv.push("--cpu-prof", `--cpu-prof-dir=${options.cpuProf}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`);
  const spawnedAt = performance.now();
  const child = track(
    fork(join(BENCH_DIR, "lib", "server-process.mjs"), [JSON.stringify(spec)], {
      cwd: ROOT_DIR,
      execArgv,
      // stdout is dropped (the reference logs recovery chatter there); stderr is summarised below
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    }),
  );
  // The reference logs a stack trace per failed request: show the first few lines, count the rest.
  let stderrLines = 0;
  createInterface({ input: child.stderr }).on("line", (line) => {
    stderrLines++;
    if (stderrLines <= STDERR_SHOWN) console.error(`   [${name} stderr] ${line}`);
  });
  const ready = await waitForMessage(child, (m) => m?.type === "ready", `server ${name}`, 120_000);
  const readyAt = performance.now();
  let memSeq = 0;
  return {
    name,
    config,
    url: ready.url,
    pid: child.pid,
    dataDir,
    startup: { spawnToReadyMs: readyAt - spawnedAt, openMs: ready.openMs, bootMs: ready.bootMs },
    spawnedAt,
    /** RSS straight from /proc, no GC. */
    rss: () => rssOf(child.pid),
    cpu: () => cpuSecondsOf(child.pid),
    runQueue: () => runQueueSecondsOf(child.pid),
    stderrLines: () => stderrLines,
    /**
     * RSS after two full GCs in the server process (plus a short settle). With `settleMs`, first waits
     * (up to that long) for V8 to shrink its young generation back after a burst of work.
     */
    async memory({ settleMs = 0 } = {}) {
      const id = ++memSeq;
      child.send({ cmd: "mem", id, settleMs });
      const answer = await waitForMessage(child, (m) => m?.type === "mem" && m.id === id, `server ${name} memory`, 30_000 + settleMs);
      const { type: _type, id: _id, ...memory } = answer;
      return memory;
    },
    /** Writes a V8 heap snapshot of the server process (after a GC) to `file`; resolves to its path. */
    async heapSnapshot(file) {
      const id = ++memSeq;
      child.send({ cmd: "heap-snapshot", id, file });
      const answer = await waitForMessage(child, (m) => m?.type === "heap-snapshot" && m.id === id, `server ${name} heap snapshot`, 120_000);
      return answer.file;
    },
    /** Graceful stop (SIGTERM → server close), SIGKILL after a grace period. */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited(child);
        clearTimeout(timer);
      }
      if (stderrLines > STDERR_SHOWN) console.error(`   [${name} stderr] … ${stderrLines - STDERR_SHOWN} more lines not shown`);
      if (ownsDir && !keepData) removeTempDir(dataDir);
    },
  };
}

/**
 * Start a load-generator process: `bench/gen/<script>.mjs` with `args` as JSON in argv[2].
 * The generator posts { type: "ready" } when set up (optional), { type: "result", ... } when done.
 */
export function startGenerator(script, args, { label = script } = {}) {
  const child = track(
    fork(join(BENCH_DIR, "gen", `${script}.mjs`), [JSON.stringify(args)], {
      cwd: ROOT_DIR,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  const messages = [];
  child.on("message", (m) => messages.push(m));
  return {
    child,
    pid: child.pid,
    send: (message) => child.send(message),
    waitFor: (type, timeoutMs = 600_000) => {
      const failed = messages.find((m) => m?.type === "error");
      if (failed) return Promise.reject(new Error(`${label}: ${failed.message}`));
      const earlier = messages.find((m) => m?.type === type);
      if (earlier) {
        messages.splice(messages.indexOf(earlier), 1);
        return Promise.resolve(earlier);
      }
      return waitForMessage(child, (m) => m?.type === type, label, timeoutMs).then((m) => {
        const index = messages.indexOf(m);
        if (index >= 0) messages.splice(index, 1);
        return m;
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited(child);
        clearTimeout(timer);
      }
    },
  };
}

/** Run a generator to completion and return its result message. */
export async function runGenerator(script, args, options) {
  const gen = startGenerator(script, args, options);
  try {
    return await gen.waitFor("result", options?.timeoutMs ?? 900_000);
  } finally {
    await gen.stop();
  }
}
