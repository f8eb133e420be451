import { log } from "../logging/logger.js";
import type { IncomingMessage } from "node:http";
import { AuthenticationError, type Need, type Principal } from "../auth/access.js";
import { KeysUnavailableError } from "../auth/jwt.js";
import { ProtocolError } from "../domain/errors.js";
import type { HttpContext } from "./context.js";
import { markPrivate } from "./cache-policy.js";

/**
 * The HTTP side of access control: turns the decision into RFC 6750 answers.
 *
 *   no token, not public  → 401  WWW-Authenticate: Bearer realm="rill"
 *   token does not verify → 401  … error="invalid_token", error_description="…"
 *   token lacks the scope → 403  … error="insufficient_scope", scope="…"
 *
 * A request that passes with a token is marked private, so its response is
 * `Cache-Control: private`, unless anyone could have made it without one.
 */

const REALM = 'Bearer realm="rill"';

/** A quoted-string for a WWW-Authenticate parameter (RFC 6750 allows no quote or backslash in it). */
function quoted(text: string): string {
  return `"${text.replace(/["\\\r\n]/g, "'")}"`;
}

function unauthorized(reason: string | null): ProtocolError {
  if (reason === null) {
    return new ProtocolError("UNAUTHORIZED", "this request needs an access token (Authorization: Bearer <token>)", {
      challenge: REALM,
    });
  }
  return new ProtocolError("INVALID_TOKEN", `invalid access token: ${reason}`, {
    challenge: `${REALM}, error="invalid_token", error_description=${quoted(reason)}`,
  });
}

/** The answer to a live read whose token ran out while it waited: the client refreshes and resumes. */
export function tokenExpired(): ProtocolError {
  return unauthorized("the token has expired");
}

export function scopeFor(need: Need): string {
  return need.operation === "admin" ? "admin" : `${need.operation}:${need.path}`;
}

/** A 403 naming the scope that would do (or, for alternatives, each of them). */
function forbidden(needs: Need[]): ProtocolError {
  const scope = needs.map(scopeFor).join(" ");
  return insufficientScope(scope, `this token does not grant ${needs.length === 1 ? scope : `any of ${scope}`}`);
}

/** The RFC 6750 403, for routes whose needs are not one stream operation (e.g. the listing). */
export function insufficientScope(scope: string, message: string): ProtocolError {
  return new ProtocolError("INSUFFICIENT_SCOPE", message, {
    challenge: `${REALM}, error="insufficient_scope", scope=${quoted(scope)}`,
  });
}

/** The request's verified principal (null without a token, or with access control off); a bad token is a 401. */
export async function principalOf(ctx: HttpContext, req: IncomingMessage): Promise<Principal | null> {
  if (ctx.access === null) return null;
  try {
    return await ctx.access.principal(req);
  } catch (error) {
    if (error instanceof AuthenticationError) throw unauthorized(error.reason);
    if (error instanceof KeysUnavailableError) {
      // Logged for the operator; the client is told only that it may try again.
      log().error({ event: "jwks_unavailable", err: error.message }, "the JWK Set cannot be fetched; tokens get 503");
      throw new ProtocolError("KEYS_UNAVAILABLE", "the server cannot check tokens right now; try again", { retryAfterSeconds: 5 });
    }
    throw error;
  }
}

/**
 * Throws the 401 or 403 unless the request may do everything in `needs`;
 * returns its principal. With access control off, everything is allowed.
 * Routes outside the stream namespace (e.g. /metrics with `{operation: "admin"}`) may call it too.
 */
export async function authorize(ctx: HttpContext, req: IncomingMessage, ...needs: Need[]): Promise<Principal | null> {
  return check(ctx, req, needs, "all");
}

/** Like authorize, but one of `needs` is enough (e.g. admin, or read on the stream concerned). */
export async function authorizeAny(ctx: HttpContext, req: IncomingMessage, needs: Need[]): Promise<Principal | null> {
  return check(ctx, req, needs, "any");
}

async function check(ctx: HttpContext, req: IncomingMessage, needs: Need[], mode: "all" | "any"): Promise<Principal | null> {
  const access = ctx.access;
  if (access === null) return null;
  const principal = await principalOf(ctx, req);
  const allowed = needs.filter((need) => access.decide(principal, need) === "allow");
  const denied = needs.find((need) => !allowed.includes(need));
  if (denied !== undefined && (mode === "all" || allowed.length === 0)) {
    if (principal === null) throw unauthorized(null);
    throw forbidden(mode === "all" ? [denied] : needs);
  }
  // Anyone could have made this request without a token: then its answer may be cached like theirs.
  const isPublic = (need: Need) => access.isPublic(need);
  const anyoneCould = mode === "all" ? needs.every(isPublic) : allowed.some(isPublic);
  if (principal !== null && !anyoneCould) markPrivate(req);
  return principal;
}
