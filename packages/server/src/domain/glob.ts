/**
 * Glob patterns over stream paths. Paths and patterns are split on "/";
 * a `*` segment matches exactly one path segment and a `**` segment matches
 * any number of them (including none). Every other segment matches itself
 * literally; wildcards inside a segment (`ev*`) are not supported, and the
 * pattern parser rejects them so that they cannot silently match nothing.
 */

export type GlobSegment = { kind: "one" } | { kind: "any" } | { kind: "literal"; text: string };

export function parseGlob(pattern: string): GlobSegment[] {
  return pattern.split("/").map((segment) => {
    if (segment === "*") return { kind: "one" } as const;
    if (segment === "**") return { kind: "any" } as const;
    return { kind: "literal", text: segment } as const;
  });
}

/** True when the pattern has a segment that mixes `*` with other characters. */
export function hasPartialWildcard(pattern: string): boolean {
  return pattern.split("/").some((segment) => segment.includes("*") && segment !== "*" && segment !== "**");
}

export function globMatches(segments: readonly GlobSegment[], path: string): boolean {
  return matchFrom(segments, 0, path.split("/"), 0);
}

function matchFrom(pattern: readonly GlobSegment[], p: number, parts: readonly string[], s: number): boolean {
  while (p < pattern.length) {
    const segment = pattern[p]!;
    if (segment.kind === "any") {
      // Collapse runs of `**`, then try every possible number of consumed segments.
      while (p + 1 < pattern.length && pattern[p + 1]!.kind === "any") p++;
      if (p + 1 === pattern.length) return true;
      for (let skip = s; skip <= parts.length; skip++) {
        if (matchFrom(pattern, p + 1, parts, skip)) return true;
      }
      return false;
    }
    if (s >= parts.length) return false;
    if (segment.kind === "literal" && segment.text !== parts[s]) return false;
    p++;
    s++;
  }
  return s === parts.length;
}

/**
 * The literal path prefix every match starts with ("events/" for
 * "events/*"), so that existing streams can be listed by prefix.
 */
export function literalPrefix(segments: readonly GlobSegment[]): string {
  let prefix = "";
  for (const segment of segments) {
    if (segment.kind !== "literal") return prefix;
    prefix += `${segment.text}/`;
  }
  // A pattern without wildcards names one path; list it by its own prefix.
  return prefix.slice(0, -1);
}
