import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { log } from "../logging/logger.js";
import type { Op } from "./commit-requests.js";

/**
 * Copies the SQLite store's write-ahead log back into the database file on a
 * worker thread, with a connection of its own, so the event loop does not.
 *
 * By default SQLite checkpoints inside the COMMIT that takes the log past
 * 1,000 pages: it copies ~4 MB into the database file and syncs both files,
 * on the thread that committed. With large appends that was two thirds of a
 * COMMIT's time (1 MB batches: 3.1 ms per COMMIT against 1.1 ms without).
 * Here the store's own connection checkpoints only as a backstop
 * (BACKSTOP_PAGES, should the worker fall behind or fail) and asks the worker
 * for a PASSIVE checkpoint — one that never blocks the writer — once enough
 * has been committed since the last one, one checkpoint at a time.
 *
 * Durability is unchanged: a checkpoint copies only committed frames, syncing
 * the log before and the database after (the worker's connection runs with
 * `synchronous=NORMAL`, like the store's), and the log is reset only by the
 * writer once every frame is in the database. A worker that fails is logged
 * once and the store's connection checkpoints as SQLite does by default.
 */
export class WalCheckpointer {
  private worker: Worker | null;
  private running = false;
  /** Checkpoints that failed in a row. */
  private failures = 0;
  private bytesSince = 0;
  private lastAt = Date.now();

  /** Starts the worker for the store's connection `db` of the database at `databasePath`. */
  constructor(
    private readonly db: Database.Database,
    databasePath: string,
  ) {
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { sqlite: createRequire(import.meta.url).resolve("better-sqlite3"), databasePath },
    });
    // The worker must not keep the process alive, and its failure must not take the server down.
    worker.unref();
    worker.on("message", (answer: { error?: string }) => {
      this.running = false;
      if (answer.error === undefined) {
        this.failures = 0;
        return;
      }
      log().warn({ event: "checkpoint_failed", store: "sqlite", error: answer.error }, `a SQLite checkpoint failed: ${answer.error}`);
      if (++this.failures >= MAX_FAILURES) this.fail(new Error(answer.error));
    });
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => {
      if (this.worker === worker) this.fail(new Error(`the checkpoint worker exited with code ${code}`));
    });
    this.worker = worker;
  }

  /** A round committed `ops`: asks for a checkpoint once enough has collected in the log. */
  committed(ops: readonly Op[]): void {
    // The data the appends and creates carried: roughly what the COMMIT added to the log.
    for (const op of ops) if (op.kind === "append" || op.kind === "create") this.bytesSince += op.command.data.length;
    if (this.worker === null || this.running) return;
    if (this.bytesSince < CHECKPOINT_BYTES && Date.now() - this.lastAt < CHECKPOINT_MS) return;
    this.running = true;
    this.bytesSince = 0;
    this.lastAt = Date.now();
    this.worker.postMessage("checkpoint");
  }

  /** Stops the worker (it closes its connection) before the store closes its own. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("close");
    // A checkpoint stuck on the disk must not hold the shutdown: the store's own close checkpoints anyway.
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private fail(error: unknown): void {
    if (this.worker === null) return;
    const worker = this.worker;
    this.worker = null;
    void worker.terminate();
    // The store's connection checkpoints as SQLite does by default again.
    this.db.pragma("wal_autocheckpoint = 1000");
    log().error(
      { event: "checkpoint_worker_failed", store: "sqlite", error: error instanceof Error ? error.message : String(error) },
      "the SQLite checkpoint worker failed: checkpoints run on the event loop from now on",
    );
  }
}

/** Committed bytes after which the worker is asked for a checkpoint (SQLite's own default is ~1,000 pages). */
const CHECKPOINT_BYTES = 4 * 1024 * 1024;
/** ...or this long after the last one, if anything was committed meanwhile (ms). */
const CHECKPOINT_MS = 200;
/** How long close() waits for the worker to finish its checkpoint and close its connection (ms). */
const CLOSE_TIMEOUT_MS = 5_000;
/** Failed checkpoints in a row after which the worker is given up. */
const MAX_FAILURES = 3;
/** Log pages past which the store's own connection checkpoints anyway (64 MiB of 4 KiB pages). */
const BACKSTOP_PAGES = 16_384;

/**
 * The worker: its own connection to the database, a PASSIVE checkpoint per
 * request, an answer when it is done. (Source text rather than a file, so it
 * runs the same from the compiled package and from the TypeScript sources.)
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const db = new Database(workerData.databasePath);
db.pragma("busy_timeout = 5000");
db.pragma("synchronous = NORMAL");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    process.exit(0);
  }
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({});
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
});
`;
