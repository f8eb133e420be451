import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";

/**
 * The server's subscription secrets: an Ed25519 key that signs webhook
 * deliveries (its public half is published as a JWKS) and an HMAC key for
 * callback and claim tokens. Both are persisted by the subscription store so
 * that the key id and outstanding tokens survive a restart.
 */
export interface SubscriptionSecrets {
  /** Ed25519 private key as a JWK (kty, crv, x, d). */
  signingKey: { kty: string; crv: string; x: string; d: string };
  /** HMAC-SHA256 key for tokens, base64url. */
  tokenKey: string;
}

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  use: "sig";
  alg: "EdDSA";
}

/** What a token proves: the bearer was given this wake of this subscription. */
export interface TokenClaims {
  subscriptionId: string;
  generation: number;
  wakeId: string;
}

export function generateSecrets(): SubscriptionSecrets {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.x || !jwk.d) throw new Error("could not export the Ed25519 key");
  return {
    signingKey: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d },
    tokenKey: randomBytes(32).toString("base64url"),
  };
}

export class Signer {
  readonly kid: string;
  private readonly privateKey: KeyObject;
  private readonly publicJwk: PublicJwk;
  private readonly tokenKey: Buffer;

  constructor(secrets: SubscriptionSecrets) {
    this.privateKey = createPrivateKey({ key: secrets.signingKey, format: "jwk" });
    const exported = createPublicKey(this.privateKey).export({ format: "jwk" });
    if (!exported.x) throw new Error("could not derive the Ed25519 public key");
    // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    const thumbprint = createHash("sha256")
      .update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x: exported.x }))
      .digest("base64url");
    this.kid = `ds_${thumbprint}`;
    this.publicJwk = { kty: "OKP", crv: "Ed25519", x: exported.x, kid: this.kid, use: "sig", alg: "EdDSA" };
    this.tokenKey = Buffer.from(secrets.tokenKey, "base64url");
    if (this.tokenKey.length < 32) throw new Error("the token key must be at least 32 bytes");
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: [{ ...this.publicJwk }] };
  }

  /** The `Webhook-Signature` value for a body: `t=<unix s>,kid=<kid>,ed25519=<sig over "t.body">`. */
  signatureHeader(body: string, nowMs: number): string {
    const t = Math.floor(nowMs / 1000);
    const signature = sign(null, Buffer.from(`${t}.${body}`, "utf8"), this.privateKey).toString("base64url");
    return `t=${t},kid=${this.kid},ed25519=${signature}`;
  }

  issueToken(claims: TokenClaims): string {
    const payload = Buffer.from(
      JSON.stringify({ sub: claims.subscriptionId, gen: claims.generation, wake: claims.wakeId }),
      "utf8",
    ).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  /** The token's claims if it was issued by this server, else null. */
  verifyToken(token: string): TokenClaims | null {
    const dot = token.indexOf(".");
    if (dot <= 0 || dot !== token.lastIndexOf(".")) return null;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = Buffer.from(this.mac(payload), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
      if (typeof claims.sub !== "string" || typeof claims.gen !== "number" || typeof claims.wake !== "string") return null;
      return { subscriptionId: claims.sub, generation: claims.gen, wakeId: claims.wake };
    } catch {
      return null;
    }
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.tokenKey).update(payload).digest("base64url");
  }
}

export function newWakeId(): string {
  return `wake_${randomBytes(12).toString("base64url")}`;
}
