import { globMatches, hasPartialWildcard, parseGlob, type GlobSegment } from "./glob.js";
import { storedBytes, type RetentionPolicy, type StreamState } from "./model.js";

/**
 * Retention as pure rules: which head batches of a stream go, and which
 * policy a stream has. Stores call `planRetention` inside their own
 * transaction, so the same rules hold on every store.
 */

/** One stored batch at the head of a stream, as retention sees it. */
export interface HeadBatch {
  start: number;
  /** Bytes stored (a compacted batch may cover more positions than it stores). */
  bytes: number;
  /** When the batch was committed (ms). */
  appendedAt: number;
}

export interface RetentionPlan {
  /** The new earliest retained position. */
  earliest: number;
  /** Own batches starting below this position are removed (whole batches only). */
  removeBelow: number;
  /** Own bytes and batches removed. */
  removedBytes: number;
  removedBatches: number;
}

/**
 * Decides how far the head of `stream` moves. `head` lists the stream's own
 * batches from its earliest position on, in order (it may stop early: the next
 * pass goes on from there). A fork's inherited range [earliest, forkOffset)
 * counts as one batch appended when the fork was made, the newest it can be.
 * `forkLimit` is the lowest earliest position of the stream's forks: what they
 * still read is never removed. Returns null when nothing goes.
 */
export function planRetention(
  stream: StreamState,
  policy: RetentionPolicy,
  head: readonly HeadBatch[],
  forkLimit: number | null,
  now: number,
): RetentionPlan | null {
  if (policy.maxAgeSeconds === null && policy.maxBytes === null) return null;
  const segments: { start: number; end: number; bytes: number; appendedAt: number; own: boolean }[] = [];
  if (stream.earliest < stream.forkOffset) {
    const size = stream.forkOffset - stream.earliest;
    segments.push({ start: stream.earliest, end: stream.forkOffset, bytes: size, appendedAt: stream.createdAt, own: false });
  }
  for (const batch of head) {
    if (batch.start < stream.earliest) continue;
    segments.push({ start: batch.start, end: batch.start + batch.bytes, bytes: batch.bytes, appendedAt: batch.appendedAt, own: true });
  }
  let remaining = segments.reduce((sum, s) => (s.own ? sum : sum + s.bytes), 0) + storedBytes(stream);
  const ageLimit = policy.maxAgeSeconds === null ? null : now - policy.maxAgeSeconds * 1000;
  let earliest = stream.earliest;
  let removedBytes = 0;
  let removedBatches = 0;
  for (const segment of segments) {
    const tooOld = ageLimit !== null && segment.appendedAt < ageLimit;
    // The size limit keeps the newest batch, however large: a stream is never emptied for its size.
    const tooBig = policy.maxBytes !== null && remaining > policy.maxBytes && remaining > segment.bytes;
    if (!tooOld && !tooBig) break;
    if (forkLimit !== null && segment.end > forkLimit) break;
    earliest = Math.max(earliest, segment.end);
    remaining -= segment.bytes;
    if (segment.own) {
      removedBytes += segment.bytes;
      removedBatches++;
    }
  }
  if (earliest === stream.earliest) return null;
  return { earliest, removeBelow: earliest, removedBytes, removedBatches };
}

/** One `--retention` rule: streams whose path matches `pattern` get `policy` unless they set their own. */
export interface RetentionRule {
  pattern: string;
  policy: RetentionPolicy;
}

const AGE_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Parses `PATTERN=LIMITS`, LIMITS being an age (`7d`, `12h`, `90s`, `2w`), a
 * size (`10GiB`, `500MB`, `4096B`) or both, comma-separated:
 * `logs/**=7d,10GiB`. Throws an Error naming the problem.
 */
export function parseRetentionRule(text: string): RetentionRule {
  const at = text.lastIndexOf("=");
  if (at <= 0) throw new Error(`retention rule "${text}" must look like PATTERN=LIMITS, e.g. logs/**=7d,10GiB`);
  const pattern = text.slice(0, at).trim();
  if (hasPartialWildcard(pattern)) {
    throw new Error(`retention pattern "${pattern}": * and ** must be whole path segments`);
  }
  const policy: RetentionPolicy = { maxAgeSeconds: null, maxBytes: null };
  for (const part of text.slice(at + 1).split(",").map((p) => p.trim())) {
    const match = /^(\d+(?:\.\d+)?)([a-z]+)$/i.exec(part);
    const unit = match?.[2]?.toLowerCase() ?? "";
    const amount = Number(match?.[1]);
    if (match && unit in AGE_UNITS && policy.maxAgeSeconds === null) policy.maxAgeSeconds = Math.round(amount * AGE_UNITS[unit]!);
    else if (match && unit in SIZE_UNITS && policy.maxBytes === null) policy.maxBytes = Math.round(amount * SIZE_UNITS[unit]!);
    else {
      throw new Error(`retention limit "${part}" in "${text}": give one age (7d, 12h, 30m, 90s, 2w) and/or one size (10GiB, 500MB)`);
    }
  }
  if (policy.maxAgeSeconds === 0 || policy.maxBytes === 0) throw new Error(`retention limits in "${text}" must be above zero`);
  return { pattern, policy };
}

/** The server-wide defaults: for a path, the policy of the most specific matching rule. */
export class RetentionDefaults {
  private readonly rules: { segments: GlobSegment[]; policy: RetentionPolicy; rank: number[] }[];

  constructor(rules: readonly RetentionRule[]) {
    this.rules = rules
      .map((rule) => {
        const segments = parseGlob(rule.pattern);
        return { segments, policy: rule.policy, rank: specificity(segments) };
      })
      .sort((a, b) => compareRanks(b.rank, a.rank));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  policyFor(path: string): RetentionPolicy | null {
    return this.rules.find((rule) => globMatches(rule.segments, path))?.policy ?? null;
  }
}

/** The policy that applies to a stream: its own, or the server's default for its path. */
export function effectiveRetention(stream: StreamState, defaults: RetentionDefaults): RetentionPolicy | null {
  return stream.retention ?? defaults.policyFor(stream.path);
}

/**
 * More literal segments is more specific; then fewer `**`; then fewer `*`.
 * `logs/app/*` beats `logs/**`, which beats `**`.
 */
function specificity(segments: readonly GlobSegment[]): number[] {
  const count = (kind: GlobSegment["kind"]) => segments.filter((s) => s.kind === kind).length;
  return [count("literal"), -count("any"), -count("one")];
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
