import { createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateSecrets, Signer } from "./signing.js";

describe("signing", () => {
  it("signs webhook bodies verifiably with the published key and a stable kid", () => {
    const secrets = generateSecrets();
    const signer = new Signer(secrets);
    expect(new Signer(structuredClone(secrets)).kid).toBe(signer.kid);
    expect(signer.kid).toMatch(/^ds_[A-Za-z0-9_-]{43}$/);
    const header = signer.signatureHeader('{"a":1}', 1_700_000_000_500);
    const [, t, kid, sig] = /^t=(\d+),kid=([^,]+),ed25519=([A-Za-z0-9_-]+)$/.exec(header)!;
    expect(t).toBe("1700000000");
    expect(kid).toBe(signer.kid);
    const key = createPublicKey({ key: signer.jwks().keys[0]!, format: "jwk" });
    expect(verify(null, Buffer.from(`${t}.{"a":1}`), key, Buffer.from(sig!, "base64url"))).toBe(true);
    expect(verify(null, Buffer.from(`${t}.{"a":2}`), key, Buffer.from(sig!, "base64url"))).toBe(false);
  });

  it("issues tokens only it can verify", () => {
    const signer = new Signer(generateSecrets());
    const claims = { subscriptionId: "s", generation: 3, wakeId: "wake_x" };
    const token = signer.issueToken(claims);
    expect(signer.verifyToken(token)).toEqual(claims);
    expect(new Signer(generateSecrets()).verifyToken(token)).toBeNull();
    const [payload, mac] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "s", gen: 4, wake: "wake_x" })).toString("base64url");
    expect(signer.verifyToken(`${forged}.${mac}`)).toBeNull();
    expect(signer.verifyToken(`${payload}.`)).toBeNull();
    expect(signer.verifyToken(`${payload}.${mac}.x`)).toBeNull();
    expect(signer.verifyToken("garbage")).toBeNull();
  });
});
