import { createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { parseScope, ScopeError, type Grants } from "./scopes.js";

/**
 * Static API tokens for machines that cannot mint JWTs. The file holds one
 * line per token, `sha256:<64 hex digits> <scope> <scope> …`; blank lines and
 * lines starting with `#` are ignored. The token itself is never stored.
 *
 * Why SHA-256 and not a slow password hash: the tokens are 256 random bits
 * that Rill generates, not human passwords, so there is nothing to guess from
 * a leaked hash; and a slow hash (scrypt, ~50 ms of CPU) on every request would
 * hand any client a cheap way to exhaust the server.
 */

const TOKEN_PREFIX = "rill_";
const LINE = /^sha256:([0-9a-f]{64})(?:\s+(.*))?$/;

export interface StaticToken {
  hash: string;
  grants: Grants;
  /** The scope text as written in the file. */
  scope: string;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random token and the line to add to the tokens file for it. */
export function createStaticToken(scope: string): { token: string; line: string } {
  const grants = parseScope(scope);
  if (!grants.admin && grants.read.length + grants.write.length + grants.delete.length === 0) {
    throw new ScopeError("a token needs at least one scope (e.g. --scope \"read:**\")");
  }
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const normalized = scope.split(/\s+/).filter((entry) => entry !== "").join(" ");
  return { token, line: `sha256:${hashToken(token)} ${normalized}` };
}

/** Parses a tokens file's text; errors name the line. */
export function parseTokensFile(text: string, source = "tokens file"): Map<string, StaticToken> {
  const tokens = new Map<string, StaticToken>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${source} line ${index + 1}`;
    const match = LINE.exec(line);
    if (!match) throw new Error(`${where}: expected "sha256:<64 hex digits> <scopes>" (never the token itself)`);
    const scope = match[2] ?? "";
    let grants: Grants;
    try {
      grants = parseScope(scope);
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    if (tokens.has(match[1]!)) throw new Error(`${where}: the same token hash appears twice`);
    tokens.set(match[1]!, { hash: match[1]!, grants, scope });
  });
  return tokens;
}

export function loadTokensFile(path: string): Map<string, StaticToken> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the tokens file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseTokensFile(text, path);
}


/** How often, at most, the tokens file is checked for changes. */
const RECHECK_MS = 1_000;

/**
 * The tokens file of a running server. Edits take effect without a restart
 * (the file is looked at again at most once a second, when a token is
 * presented), so a removed line revokes its token within a second. An edit
 * that does not parse is reported and ignored: the previous tokens stay.
 */
export class TokensFile {
  private tokens: Map<string, StaticToken>;
  private version: string;
  private checkedAt = Date.now();

  constructor(
    private readonly path: string,
    private readonly warn: (message: string) => void = (message) => console.error(`rill: ${message}`),
  ) {
    this.version = this.stamp();
    this.tokens = loadTokensFile(path);
  }

  lookup(token: string): StaticToken | undefined {
    this.refresh();
    return this.tokens.get(hashToken(token));
  }

  private stamp(): string {
    try {
      const stat = statSync(this.path);
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      return "missing";
    }
  }

  private refresh(): void {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    const version = this.stamp();
    if (version === this.version) return;
    this.version = version;
    try {
      this.tokens = loadTokensFile(this.path);
    } catch (error) {
      this.warn(`${(error as Error).message}; keeping the tokens loaded before`);
    }
  }
}
