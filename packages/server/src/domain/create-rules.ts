import { DEFAULT_CONTENT_TYPE, mediaType } from "@rill/protocol";
import type { ResolvedCreateCommand } from "./commands.js";
import { ProtocolError } from "./errors.js";
import { checkForkPoint, checkForkSource } from "./fork-rules.js";
import { isExpired, type CompactionPolicy, type RetentionPolicy, type StreamState } from "./model.js";

export type CreateDecision =
  | { kind: "exists"; stream: StreamState }
  | { kind: "create"; stream: StreamState };

/**
 * Decides a PUT. `existing` is the stream at the path (expired streams no
 * fork reads through count as absent; the store removes them, as a delete
 * would, before creating anew). `source` is the fork source's state when
 * the command forks.
 */
export function decideCreate(
  existing: StreamState | undefined,
  source: StreamState | undefined,
  command: ResolvedCreateCommand,
  now: number,
): CreateDecision {
  // A deleted or expired stream that forks still read through keeps its path:
  // replacing it would hand the forks someone else's bytes.
  if (existing && (existing.softDeleted || (existing.forkCount > 0 && isExpired(existing, now)))) {
    throw new ProtocolError("STREAM_EXISTS", `a deleted stream still used by forks occupies ${command.path}`);
  }
  if (existing && !isExpired(existing, now)) {
    const wanted = desiredConfig(command, source);
    const differences = configDifferences(existing, wanted);
    if (command.fork) {
      if (existing.forkedFrom !== command.fork.source) differences.push("fork source");
      else if (command.fork.explicit && existing.forkOffset !== command.fork.position) differences.push("fork offset");
    }
    if (differences.length > 0) {
      throw new ProtocolError(
        "STREAM_EXISTS",
        `stream already exists with a different configuration (${differences.join(", ")})`,
      );
    }
    return { kind: "exists", stream: existing };
  }

  let forkOffset = 0;
  let forkedFrom: string | null = null;
  if (command.fork) {
    const fork = command.fork;
    const from = checkForkSource(source, fork.source, now);
    checkForkPoint(from, fork.position);
    if (command.contentType !== null && mediaType(command.contentType) !== mediaType(from.contentType)) {
      throw new ProtocolError(
        "CONTENT_TYPE_MISMATCH",
        `a fork must keep its source's content type (${mediaType(from.contentType)})`,
      );
    }
    forkOffset = fork.position;
    forkedFrom = fork.source;
  }

  const config = desiredConfig(command, source);
  return {
    kind: "create",
    stream: {
      path: command.path,
      contentType: config.contentType,
      ttlSeconds: config.ttlSeconds,
      expiresAt: config.expiresAt,
      createdAt: now,
      lastAccessAt: now,
      tail: forkOffset + command.data.length,
      closed: command.closed,
      lastStreamSeq: null,
      forkedFrom,
      forkOffset,
      forkCount: 0,
      softDeleted: false,
      closedBy: null,
      retention: config.retention,
      compaction: config.compaction,
      // A fork reads its source from the source's earliest retained position on.
      earliest: source && command.fork ? source.earliest : 0,
      removedBytes: 0,
    },
  };
}

interface Config {
  contentType: string;
  ttlSeconds: number | null;
  expiresAt: number | null;
  closed: boolean;
  retention: RetentionPolicy | null;
  compaction: CompactionPolicy | null;
}

/**
 * The configuration a PUT asks for. A fork inherits its source's content type
 * and, when it names no expiry of its own, the source's TTL or expiry.
 */
function desiredConfig(command: ResolvedCreateCommand, source: StreamState | undefined): Config {
  const inherited = command.fork ? source : undefined;
  const ownExpiry = command.ttlSeconds !== null || command.expiresAt !== null;
  return {
    contentType: command.contentType ?? inherited?.contentType ?? DEFAULT_CONTENT_TYPE,
    ttlSeconds: ownExpiry ? command.ttlSeconds : (inherited?.ttlSeconds ?? null),
    expiresAt: ownExpiry ? command.expiresAt : (inherited?.expiresAt ?? null),
    closed: command.closed,
    retention: command.retention,
    compaction: command.compaction,
  };
}

function configDifferences(existing: StreamState, wanted: Config): string[] {
  const out: string[] = [];
  if (mediaType(existing.contentType) !== mediaType(wanted.contentType)) out.push("content type");
  if (existing.ttlSeconds !== wanted.ttlSeconds) out.push("TTL");
  if (existing.expiresAt !== wanted.expiresAt) out.push("expiry");
  if (existing.closed !== wanted.closed) out.push("closed state");
  if (JSON.stringify(existing.retention) !== JSON.stringify(wanted.retention)) out.push("retention");
  if (JSON.stringify(existing.compaction) !== JSON.stringify(wanted.compaction)) out.push("compaction");
  return out;
}
