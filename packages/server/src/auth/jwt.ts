import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";

/**
 * JWT verification with `jose`. Algorithms are pinned per kind of key: the
 * shared secret verifies HS256 only, a JWK Set verifies RS256, ES256 and
 * EdDSA only (jose also checks that the key it picks fits the algorithm).
 * `alg: none` is never accepted: jwtVerify refuses unsecured tokens.
 */

export const SECRET_ALGORITHMS = ["HS256"];
export const JWKS_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
/** A shorter HS256 secret can be brute-forced offline from any one token. */
const MIN_SECRET_BYTES = 32;

export interface JwtOptions {
  jwtSecret?: string;
  /** A JWK Set: an http(s) URL (fetched, cached, refetched on an unknown `kid`) or a file path. */
  jwks?: string;
  audience?: string;
  issuer?: string;
  /** Least time between two fetches of a remote JWK Set (default 30 s, jose's). */
  jwksCooldownMs?: number;
}

/** A token that did not verify; the message says why, for the 401's error_description. */
export class InvalidTokenError extends Error {
  override name = "InvalidTokenError";
}

/** The JWK Set could not be fetched: the server's problem, not the token's (a 503, not a 401). */
export class KeysUnavailableError extends Error {
  override name = "KeysUnavailableError";
}

/** Failures of fetching a remote JWK Set: a timeout, a bad HTTP answer (plain JOSEError), or the network. */
function isKeyFetchFailure(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError) return error.code === errors.JOSEError.code;
  return true;
}

export type JwtVerifier = (token: string) => Promise<JWTPayload>;

function loadJwksFile(path: string): JWTVerifyGetKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read the JWK Set file ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw new Error(`${path} is not a JWK Set (expected {"keys": [...]})`);
  }
  return createLocalJWKSet(parsed as JSONWebKeySet);
}

function jwksKeys(source: string, cooldownMs: number | undefined): JWTVerifyGetKey {
  if (!/^https?:\/\//i.test(source)) return loadJwksFile(source);
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new Error(`not a valid JWK Set URL: ${source}`);
  }
  return createRemoteJWKSet(url, cooldownMs === undefined ? {} : { cooldownDuration: cooldownMs });
}

/** Why a token failed, in words a client developer can act on. */
function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted (${error.reason})`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's signing algorithm is not accepted by this server";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of this server's JWK Set matches the token";
  if (error instanceof errors.JOSEError) return `the token is not valid (${error.code})`;
  return "the token is not a valid JWT";
}

/** A verifier for the configured keys, or null when no JWT key is configured. */
export function jwtVerifier(options: JwtOptions): JwtVerifier | null {
  const { jwtSecret, jwks, audience, issuer } = options;
  if (jwtSecret === undefined && jwks === undefined) return null;
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < MIN_SECRET_BYTES) {
    throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes (e.g. openssl rand -base64 48)`);
  }
  const secret = jwtSecret === undefined ? null : new TextEncoder().encode(jwtSecret);
  const keySet = jwks === undefined ? null : jwksKeys(jwks, options.jwksCooldownMs);
  const claims = { ...(audience ? { audience } : {}), ...(issuer ? { issuer } : {}) };

  return async (token) => {
    let alg: unknown;
    try {
      ({ alg } = decodeProtectedHeader(token));
    } catch (error) {
      throw new InvalidTokenError(describeFailure(error));
    }
    try {
      // Each kind of key verifies only its own algorithms; a token is sent to
      // the key its header asks for, and refused if that key is not configured.
      const symmetric = typeof alg === "string" && SECRET_ALGORITHMS.includes(alg);
      if (symmetric && secret !== null) {
        return (await jwtVerify(token, secret, { ...claims, algorithms: SECRET_ALGORITHMS })).payload;
      }
      if (keySet !== null) return (await jwtVerify(token, keySet, { ...claims, algorithms: JWKS_ALGORITHMS })).payload;
      return (await jwtVerify(token, secret!, { ...claims, algorithms: SECRET_ALGORITHMS })).payload;
    } catch (error) {
      if (keySet !== null && isKeyFetchFailure(error)) {
        throw new KeysUnavailableError(`the JWK Set at ${jwks} cannot be fetched: ${(error as Error).message}`);
      }
      throw new InvalidTokenError(describeFailure(error));
    }
  };
}
