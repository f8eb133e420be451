import type { IncomingMessage } from "node:http";
import { TokensFile } from "./static-tokens.js";
import { InvalidTokenError, jwtVerifier, type JwtOptions, type JwtVerifier } from "./jwt.js";
import { allows, combine, grantsFromClaim, NO_GRANTS, parseScope, type Grants, type StreamOperation } from "./scopes.js";

/** Access-control settings of a server; with none of jwtSecret, jwks, tokens, access control is off. */
export interface AccessOptions extends JwtOptions {
  /** Path of a static tokens file (see static-tokens.ts for its format). */
  tokens?: string;
  /** What a request without a token may do, e.g. "read:public/**" (default: nothing). */
  publicScope?: string;
}

/** Who is asking, once a token verified. */
export interface Principal {
  kind: "jwt" | "static";
  /** The JWT's `sub`, or null. */
  subject: string | null;
  grants: Grants;
  /** When the token stops being valid (ms since the epoch), or null if it never does. */
  expiresAt: number | null;
}

/** What a request needs: an operation on a stream, or the admin scope. */
export type Need = { operation: StreamOperation; path: string } | { operation: "admin" };

/** The answer of the one decision function. */
export type Decision = "allow" | 401 | 403;

/** A 401 for a missing token, or one that did not verify (then `reason` says why). */
export class AuthenticationError extends Error {
  override name = "AuthenticationError";
  constructor(readonly reason: string | null) {
    super(reason ?? "this server needs an access token (Authorization: Bearer <token>)");
  }
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export class AccessControl {
  private readonly verifyJwt: JwtVerifier | null;
  private readonly staticTokens: TokensFile | null;
  private readonly publicGrants: Grants;
  private readonly principals = new WeakMap<IncomingMessage, Promise<Principal | null>>();

  private constructor(options: AccessOptions) {
    this.verifyJwt = jwtVerifier(options);
    this.staticTokens = options.tokens === undefined ? null : new TokensFile(options.tokens);
    this.publicGrants = options.publicScope === undefined ? NO_GRANTS : parseScope(options.publicScope);
  }

  /** Access control for these options, or null when none is configured (everything is allowed). */
  static fromOptions(options: AccessOptions): AccessControl | null {
    if (options.jwtSecret === undefined && options.jwks === undefined && options.tokens === undefined) {
      if (options.publicScope !== undefined) throw new Error("publicScope needs access control (a JWT secret, a JWK Set or a tokens file)");
      return null;
    }
    return new AccessControl(options);
  }

  /**
   * The request's principal (null without a token), verified once per request.
   * Rejects with an AuthenticationError for a token that does not verify.
   */
  principal(req: IncomingMessage): Promise<Principal | null> {
    let found = this.principals.get(req);
    if (found === undefined) {
      found = this.authenticate(req.headers.authorization);
      this.principals.set(req, found);
    }
    return found;
  }

  private async authenticate(header: string | undefined): Promise<Principal | null> {
    if (header === undefined || header.trim() === "") return null;
    const match = BEARER.exec(header);
    if (!match) throw new AuthenticationError('the Authorization header must be "Bearer <token>"');
    const token = match[1]!;
    const known = this.staticTokens?.lookup(token);
    if (known) return { kind: "static", subject: null, grants: known.grants, expiresAt: null };
    if (this.verifyJwt === null) throw new AuthenticationError("the token is not one of this server's API tokens");
    try {
      const claims = await this.verifyJwt(token);
      return {
        kind: "jwt",
        subject: typeof claims.sub === "string" ? claims.sub : null,
        grants: grantsFromClaim(claims.scope),
        expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : null,
      };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new AuthenticationError(error.message);
      throw error;
    }
  }

  /** What this principal (or, for null, anyone) may do: its own grants plus the public ones. */
  grantsOf(principal: Principal | null): Grants {
    return principal === null ? this.publicGrants : combine(principal.grants, this.publicGrants);
  }

  /** Whether a request without a token could do this (its response may then be cached publicly). */
  isPublic(need: Need): boolean {
    return need.operation !== "admin" && allows(this.publicGrants, need.operation, need.path);
  }

  /** The single decision: allowed, 401 (no token, and anyone may not) or 403 (a token without the scope). */
  decide(principal: Principal | null, need: Need): Decision {
    const grants = this.grantsOf(principal);
    const granted = need.operation === "admin" ? grants.admin : allows(grants, need.operation, need.path);
    if (granted) return "allow";
    return principal === null ? 401 : 403;
  }
}
