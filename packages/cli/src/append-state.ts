import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * What an interrupted `rill append` leaves behind so that running the same
 * command again continues exactly where the server stopped acknowledging.
 *
 * Input is sent one batch at a time through an idempotent producer. Before a
 * batch is sent its producer sequence number and input range are written
 * here as `pending`; once the server acknowledges it, `ackedBytes` moves past
 * it. After a crash the pending batch may or may not have been committed, so
 * a resumed run sends that same range again with the same producer id, epoch
 * and sequence number: the server either appends it (it never arrived) or
 * recognises the duplicate. Only then does the run continue, with the next
 * epoch, after the acknowledged position.
 */
export interface AppendState {
  version: 1;
  url: string;
  /** The inputs, as described by InputSource.key. */
  input: string;
  /** SHA-256 of the input's first 64 KiB, to refuse resuming with other data. */
  headHash: string;
  jsonLines: boolean;
  /** Batch and record size limit used: resuming must cut the input the same way. */
  batchBytes: number;
  producerId: string;
  epoch: number;
  /** Input bytes (line endings included) and messages the server has acknowledged. */
  ackedBytes: number;
  ackedMessages: number;
  /** The batch that was in flight, if any. */
  pending: { seq: number; fromBytes: number; toBytes: number; messages: number } | null;
  /**
   * Set when a run stopped at bad input: the hash of the input up to what was
   * acknowledged (at most HEAD_BYTES), so the user may fix the input after
   * that point and resume even when the fix changes the head hash.
   */
  ackedPrefix?: { bytes: number; sha256: string };
  /** Set once every byte was appended: running the same append again is refused unless --again. */
  completed?: { at: string; inputSize: number | undefined };
  updatedAt: string;
}

export function defaultStateDir(): string {
  if (process.env.RILL_STATE_DIR) return process.env.RILL_STATE_DIR;
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "rill", "appends");
}

/** One state file per (stream URL, input). Standard input is told apart by its first bytes. */
export function stateFilePath(dir: string, url: string, inputKey: string, headHash: string): string {
  const identity = inputKey === "stdin" ? `stdin:${headHash}` : inputKey;
  const digest = createHash("sha256").update(`${url}\n${identity}`).digest("hex").slice(0, 32);
  return join(dir, `${digest}.json`);
}

export function loadState(path: string): AppendState | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const state = JSON.parse(text) as AppendState;
  if (state.version !== 1 || typeof state.producerId !== "string" || typeof state.epoch !== "number") {
    throw new Error(`unrecognised resume state in ${path}`);
  }
  return state;
}

/** Replaces the file atomically (write beside it, then rename), so a crash never leaves half a file. */
export function saveState(path: string, state: AppendState): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 2));
  renameSync(temporary, path);
}

export function removeState(path: string): void {
  rmSync(path, { force: true });
}

export function newProducerId(): string {
  return `rill-cli-${randomBytes(8).toString("hex")}`;
}
