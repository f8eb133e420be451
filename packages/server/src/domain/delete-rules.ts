import type { StreamState } from "./model.js";

export interface DeletePlan {
  /** True when the stream is kept (hidden) because forks still read through it. */
  soft: boolean;
  /** Streams to remove with all their data and producer state. */
  remove: string[];
  /** Streams whose state changes (soft-deleted flag, fork counts). */
  update: StreamState[];
}

/**
 * Works out what deleting `path` does. A stream that forks still read through
 * is only hidden. Otherwise it goes, its source loses a fork, and a source
 * that was already deleted and has just lost its last fork goes too — up the
 * chain. `get` reads the current state inside the caller's transaction.
 */
export function planDelete(path: string, get: (path: string) => StreamState | undefined): DeletePlan {
  const stream = get(path);
  if (!stream) return { soft: false, remove: [], update: [] };
  if (stream.forkCount > 0) {
    return { soft: true, remove: [], update: [{ ...stream, softDeleted: true }] };
  }
  const remove = [path];
  const update: StreamState[] = [];
  let sourcePath = stream.forkedFrom;
  while (sourcePath !== null) {
    const source = get(sourcePath);
    if (!source) break;
    const forkCount = Math.max(0, source.forkCount - 1);
    if (source.softDeleted && forkCount === 0) {
      remove.push(source.path);
      sourcePath = source.forkedFrom;
      continue;
    }
    update.push({ ...source, forkCount });
    break;
  }
  return { soft: false, remove, update };
}
