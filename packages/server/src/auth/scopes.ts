import { globMatches, hasPartialWildcard, parseGlob, type GlobSegment } from "../domain/glob.js";

/**
 * Permissions as a token's `scope` claim spells them: a space-separated list
 * of `read:<pattern>`, `write:<pattern>`, `delete:<pattern>` and `admin`.
 * A pattern is a stream path below the base path; `*` is one path segment and
 * `**` any number of them (the same globs subscriptions use).
 */

export type StreamOperation = "read" | "write" | "delete";
export const STREAM_OPERATIONS: readonly StreamOperation[] = ["read", "write", "delete"];

export interface Grants {
  admin: boolean;
  /** Parsed patterns per operation. */
  read: GlobSegment[][];
  write: GlobSegment[][];
  delete: GlobSegment[][];
}

export const NO_GRANTS: Grants = Object.freeze({ admin: false, read: [], write: [], delete: [] });

export class ScopeError extends Error {
  override name = "ScopeError";
}

/** Checks one `operation:pattern` entry; throws a ScopeError naming the problem. */
function checkEntry(entry: string): { operation: StreamOperation | "admin"; pattern: string | null } {
  if (entry === "admin") return { operation: "admin", pattern: null };
  const colon = entry.indexOf(":");
  const operation = entry.slice(0, colon);
  const pattern = entry.slice(colon + 1);
  if (colon === -1 || !STREAM_OPERATIONS.includes(operation as StreamOperation)) {
    throw new ScopeError(`unknown scope "${entry}" (expected read:<pattern>, write:<pattern>, delete:<pattern> or admin)`);
  }
  const segments = pattern.split("/");
  if (pattern === "" || segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new ScopeError(`scope "${entry}" needs a stream path pattern such as chat/** (no empty, "." or ".." segments)`);
  }
  if (hasPartialWildcard(pattern)) {
    throw new ScopeError(`scope "${entry}": wildcards must be whole segments (* for one, ** for any number)`);
  }
  return { operation: operation as StreamOperation, pattern };
}

function grant(grants: Grants, entry: string): void {
  const { operation, pattern } = checkEntry(entry);
  if (operation === "admin") grants.admin = true;
  else grants[operation].push(parseGlob(pattern!));
}

/**
 * Parses a scope string strictly (for configuration and `rill token create`):
 * any entry that is not understood is an error.
 */
export function parseScope(scope: string): Grants {
  const grants: Grants = { admin: false, read: [], write: [], delete: [] };
  for (const entry of scope.split(/\s+/).filter((item) => item !== "")) grant(grants, entry);
  return grants;
}

/**
 * Parses a token's scope claim (a space-separated string or an array)
 * leniently: entries Rill does not know (a token minted for several services
 * may carry other scopes) grant nothing.
 */
export function grantsFromClaim(claim: unknown): Grants {
  const grants: Grants = { admin: false, read: [], write: [], delete: [] };
  const entries: unknown[] = typeof claim === "string" ? claim.split(/\s+/) : Array.isArray(claim) ? claim : [];
  for (const entry of entries) {
    if (typeof entry !== "string" || entry === "") continue;
    try {
      grant(grants, entry);
    } catch (error) {
      if (!(error instanceof ScopeError)) throw error;
    }
  }
  return grants;
}

export function allows(grants: Grants, operation: StreamOperation, path: string): boolean {
  return grants[operation].some((pattern) => globMatches(pattern, path));
}

/** The union of two sets of grants (a principal's own plus what anyone may do). */
export function combine(a: Grants, b: Grants): Grants {
  return {
    admin: a.admin || b.admin,
    read: [...a.read, ...b.read],
    write: [...a.write, ...b.write],
    delete: [...a.delete, ...b.delete],
  };
}
