import { startServer, type RunningServer } from "@rill/server";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bearer, hostJwks, signingKey, signWith, type JwksHost } from "../support/tokens.js";

// Key rotation at the identity provider: the server refetches the JWK Set for
// a key id it has not seen, and stops accepting keys that left the set.

let server: RunningServer | undefined;
let jwks: JwksHost | undefined;
afterEach(async () => {
  await server?.close();
  await jwks?.close();
  server = jwks = undefined;
});

async function status(token: string, path = "rotated"): Promise<number> {
  const res = await fetch(`${server!.streamsUrl}/${path}`, { method: "PUT", headers: { ...bearer(token), "content-type": "text/plain" } });
  await res.arrayBuffer();
  return res.status;
}

describe("JWK Set from a URL", () => {
  it("refetches on an unknown kid after a rotation, and drops retired keys", async () => {
    const first = await signingKey("2026-a", "ES256");
    const second = await signingKey("2026-b", "RS256");
    jwks = await hostJwks([first]);
    server = await startServer({ port: 0, memory: true, access: { jwks: jwks.url, jwksCooldownMs: 0 } });
    expect(jwks.fetches).toBe(0); // fetched when first needed, not at start

    expect(await status(await signWith(first, { scope: "write:**" }), "a")).toBe(201);
    expect(jwks.fetches).toBe(1);
    expect(await status(await signWith(first, { scope: "write:**" }), "a")).toBe(200);
    expect(jwks.fetches).toBe(1); // cached

    jwks.keys = [second];
    expect(await status(await signWith(second, { scope: "write:**" }), "b")).toBe(201);
    expect(jwks.fetches).toBe(2);

    const retired = await fetch(`${server.streamsUrl}/a`, { headers: bearer(await signWith(first, { scope: "read:**" })) });
    expect(retired.status).toBe(401);
    expect(retired.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(((await retired.json()) as { error: { message: string } }).error.message).toContain("no key of this server's JWK Set");
  });

  it("does not let tokens with made-up key ids hammer the key host (cooldown)", async () => {
    const key = await signingKey("real", "EdDSA");
    jwks = await hostJwks([key]);
    server = await startServer({ port: 0, memory: true, access: { jwks: jwks.url } });
    expect(await status(await signWith(key, { scope: "write:**" }))).toBe(201);
    for (let i = 0; i < 5; i++) {
      const forged = await signWith({ ...(await signingKey(`made-up-${i}`, "EdDSA")) }, { scope: "write:**" });
      expect(await status(forged)).toBe(401);
    }
    expect(jwks.fetches).toBe(1);
  });

  it("answers 503 with Retry-After, not 401 or 500, when the key host is down", async () => {
    const key = await signingKey("k", "ES256");
    jwks = await hostJwks([key]);
    const url = jwks.url;
    await jwks.close();
    jwks = undefined;
    server = await startServer({ port: 0, memory: true, access: { jwks: url } });
    const res = await fetch(`${server.streamsUrl}/x`, { headers: bearer(await signWith(key, { scope: "read:**" })) });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KEYS_UNAVAILABLE");
  });
});

describe("JWK Set from a file", () => {
  it("verifies tokens against the keys in the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rill-jwks-"));
    try {
      const key = await signingKey("file-key", "RS256");
      const other = await signingKey("file-key", "RS256"); // same kid, other key: a forgery
      writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [key.publicJwk] }));
      server = await startServer({ port: 0, memory: true, access: { jwks: join(dir, "jwks.json") } });
      expect(await status(await signWith(key, { scope: "write:**" }))).toBe(201);
      expect(await status(await signWith(other, { scope: "write:**" }))).toBe(401);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
