import type { AppendCommand } from "../domain/commands.js";
import type { RetentionPolicy } from "../domain/model.js";
import type { ResolvedCreateCommand } from "../domain/commands.js";
import type { BatchRewrite } from "../domain/compaction-rules.js";

/**
 * The write requests a SQL store's commit queue (commit-queue.ts) holds until
 * a round applies them, shared by the SQLite and PostgreSQL stores (their
 * rounds differ).
 */
export type Op =
  | { kind: "create"; command: ResolvedCreateCommand; now: number }
  | { kind: "append"; command: AppendCommand; now: number }
  | { kind: "delete"; path: string }
  | { kind: "sweep"; now: number }
  | { kind: "retain"; path: string; policy: RetentionPolicy; now: number }
  | { kind: "compact"; path: string; rewrites: readonly BatchRewrite[] };

/** A queued request and the promise it answers. */
export interface Pending {
  op: Op;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
}

/** How one request of a committed round came out: each fails or succeeds on its own. */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };
