/**
 * Tokens for access-control tests: HS256 JWTs signed with a shared secret,
 * asymmetric JWTs from a JWK Set served by a local HTTP server (whose keys a
 * test can rotate), and hand-built unsecured (`alg: none`) tokens.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789";
export const AUDIENCE = "rill-test";
export const ISSUER = "https://issuer.test";

export interface Claims {
  scope?: string;
  /** Seconds from now until it expires (negative: already expired). Default one hour. */
  expiresIn?: number;
  /** The `exp` claim itself (seconds since the epoch); wins over expiresIn. */
  exp?: number;
  audience?: string;
  issuer?: string;
  sub?: string;
}

function build(claims: Claims): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(claims.scope === undefined ? {} : { scope: claims.scope }) })
    .setIssuedAt(now - 60)
    .setExpirationTime(claims.exp ?? now + (claims.expiresIn ?? 3600))
    .setAudience(claims.audience ?? AUDIENCE)
    .setIssuer(claims.issuer ?? ISSUER);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  return jwt;
}

export function hs256(claims: Claims, secret = SECRET): Promise<string> {
  return build(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

/** An unsecured JWT: header `{"alg":"none"}`, no signature. */
export function unsecured(claims: Claims): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const payload = { scope: claims.scope, aud: AUDIENCE, iss: ISSUER, iat: now, exp: now + 3600 };
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
}

interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256" | "EdDSA";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string, alg: SigningKey["alg"] = "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {});
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

export function signWith(key: SigningKey, claims: Claims): Promise<string> {
  return build(claims).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
}

/** A JWK Set on a local HTTP server; `keys` may be replaced at any time (rotation). */
export interface JwksHost {
  url: string;
  keys: SigningKey[];
  /** How many times the JWK Set was fetched. */
  fetches: number;
  close(): Promise<void>;
}

export async function hostJwks(keys: SigningKey[]): Promise<JwksHost> {
  const host: JwksHost = { url: "", keys, fetches: 0, close: () => new Promise((resolve) => server.close(() => resolve())) };
  const server: Server = createServer((_req, res) => {
    host.fetches++;
    res.writeHead(200, { "content-type": "application/jwk-set+json" });
    res.end(JSON.stringify({ keys: host.keys.map((key) => key.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return host;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
