import { createStaticToken, startServer, type RunningServer } from "@rill/server";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, bearer, hostJwks, hs256, ISSUER, SECRET, signingKey, signWith, unsecured, type JwksHost } from "../support/tokens.js";

/**
 * Every guarded route × every kind of token → the status a client sees, over
 * real HTTP. Each case runs on fresh streams, so an allowed DELETE or close
 * cannot change what the next row finds.
 */

interface Request {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Route {
  name: string;
  /** Prepares streams (with an all-powerful token) under a fresh prefix `p`; returns the request. */
  prepare(p: string): Promise<Request>;
  /** The scope that allows the request, and a plausible one that does not. */
  granted(p: string): string;
  denied(p: string): string;
  /** Status of the request when it is allowed. */
  ok: number;
}

let server: RunningServer;
let jwksServer: RunningServer;
let jwks: JwksHost;
let dir: string;
let rootToken: string;
let staticTokens: Map<string, string>;

const text = { "content-type": "text/plain" };
const json = { "content-type": "application/json" };

async function root(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<void> {
  const res = await fetch(`${server.streamsUrl}/${path}`, { method, headers: { ...headers, ...bearer(rootToken) }, body });
  expect(res.status, `setup ${method} ${path}`).toBeLessThan(300);
  await res.arrayBuffer();
}

const createStream = (path: string) => root("PUT", path, text, "hello");
const subscription = (p: string) => ({ type: "pull-wake", pattern: `${p}/jobs/**`, wake_stream: `${p}/wake`, lease_ttl_ms: 5000 });
async function createSubscription(p: string): Promise<void> {
  await root("PUT", `${p}/wake`, json, "[]");
  await root("PUT", `__ds/subscriptions/${p}`, json, JSON.stringify(subscription(p)));
}

const ROUTES: Route[] = [
  {
    name: "HEAD stream",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "HEAD", path: `${p}/s` }),
    granted: (p) => `read:${p}/*`,
    denied: (p) => `write:${p}/s delete:${p}/s read:${p}/other`,
    ok: 200,
  },
  {
    name: "GET stream (catch-up)",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "GET", path: `${p}/s` }),
    granted: (p) => `read:${p}/**`,
    denied: (p) => `write:${p}/**`,
    ok: 200,
  },
  {
    name: "GET stream (long-poll)",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "GET", path: `${p}/s?offset=-1&live=long-poll` }),
    granted: () => "read:**",
    denied: (p) => `read:${p}/t`,
    ok: 200,
  },
  {
    name: "GET stream (SSE)",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "GET", path: `${p}/s?offset=-1&live=sse` }),
    granted: (p) => `read:${p}/s`,
    denied: (p) => `admin write:${p}/s`,
    ok: 200,
  },
  {
    name: "PUT create",
    prepare: async (p) => ({ method: "PUT", path: `${p}/new`, headers: text }),
    granted: (p) => `write:${p}/new`,
    denied: (p) => `read:${p}/new delete:${p}/new`,
    ok: 201,
  },
  {
    name: "POST append",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "POST", path: `${p}/s`, headers: text, body: "more" }),
    granted: (p) => `write:${p}/*`,
    denied: (p) => `read:${p}/*`,
    ok: 204,
  },
  {
    name: "POST close",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "POST", path: `${p}/s`, headers: { "stream-closed": "true" } }),
    granted: (p) => `write:${p}/s`,
    denied: (p) => `write:${p}/s/x`,
    ok: 204,
  },
  {
    name: "PUT fork (write on the fork, read on its source)",
    prepare: async (p) => (
      await createStream(`${p}/src`), { method: "PUT", path: `${p}/fork`, headers: { "stream-forked-from": `/v1/stream/${p}/src` } }
    ),
    granted: (p) => `write:${p}/fork read:${p}/src`,
    denied: (p) => `write:${p}/fork read:${p}/fork`,
    ok: 201,
  },
  {
    name: "PUT fork named by URL (read on its source)",
    prepare: async (p) => (
      await createStream(`${p}/src`),
      { method: "PUT", path: `${p}/fork`, headers: { "stream-forked-from": `${server.streamsUrl}/${p}/src` } }
    ),
    granted: (p) => `write:${p}/** read:${p}/src`,
    denied: (p) => `write:${p}/**`,
    ok: 201,
  },
  {
    name: "DELETE stream",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "DELETE", path: `${p}/s` }),
    granted: (p) => `delete:${p}/s`,
    denied: (p) => `read:${p}/s write:${p}/s`,
    ok: 204,
  },
  {
    name: "GET listing",
    prepare: async (p) => (await createStream(`${p}/s`), { method: "GET", path: `__ds/streams?prefix=${p}/` }),
    granted: (p) => `read:${p}/s`,
    denied: (p) => `write:${p}/** delete:${p}/**`,
    ok: 200,
  },
  {
    name: "PUT subscription",
    prepare: async (p) => (
      await root("PUT", `${p}/wake`, json, "[]"),
      { method: "PUT", path: `__ds/subscriptions/${p}`, headers: json, body: JSON.stringify(subscription(p)) }
    ),
    granted: () => "admin",
    denied: () => "read:** write:** delete:**",
    ok: 201,
  },
  {
    name: "GET subscription",
    prepare: async (p) => (await createSubscription(p), { method: "GET", path: `__ds/subscriptions/${p}` }),
    granted: () => "admin",
    denied: () => "read:**",
    ok: 200,
  },
  {
    name: "POST subscription streams",
    prepare: async (p) => (
      await createSubscription(p),
      { method: "POST", path: `__ds/subscriptions/${p}/streams`, headers: json, body: JSON.stringify({ streams: [`${p}/extra`] }) }
    ),
    granted: () => "admin",
    denied: (p) => `write:${p}/**`,
    ok: 204,
  },
  {
    name: "DELETE subscription stream",
    prepare: async (p) => (await createSubscription(p), { method: "DELETE", path: `__ds/subscriptions/${p}/streams/${p}%2Fextra` }),
    granted: () => "admin",
    denied: () => "delete:**",
    ok: 204,
  },
  {
    name: "DELETE subscription",
    prepare: async (p) => (await createSubscription(p), { method: "DELETE", path: `__ds/subscriptions/${p}` }),
    granted: () => "admin",
    denied: () => "delete:**",
    ok: 204,
  },
  {
    name: "POST claim (read on the wake stream)",
    // Nothing is pending yet: an authorized claim is told so (409), an unauthorized one never gets that far.
    prepare: async (p) => (
      await createSubscription(p),
      { method: "POST", path: `__ds/subscriptions/${p}/claim`, headers: json, body: JSON.stringify({ worker: "w" }) }
    ),
    granted: (p) => `read:${p}/wake`,
    denied: (p) => `read:${p}/jobs/**`,
    ok: 409,
  },
];

type Kind = "none" | "expired" | "bad signature" | "wrong audience" | "wrong issuer" | "alg none" | "HS256 on a JWKS-only server"
  | "RS256 from the JWK Set" | "EdDSA from the JWK Set" | "valid, right scope" | "valid, wrong scope" | "static, right scope" | "static, wrong scope";

interface Expectation {
  status: number | "ok";
  /** The WWW-Authenticate header's error parameter (null: none, as for a missing token). */
  error?: string | null;
}

const KINDS: Record<Kind, Expectation> = {
  none: { status: 401, error: null },
  expired: { status: 401, error: "invalid_token" },
  "bad signature": { status: 401, error: "invalid_token" },
  "wrong audience": { status: 401, error: "invalid_token" },
  "wrong issuer": { status: 401, error: "invalid_token" },
  "alg none": { status: 401, error: "invalid_token" },
  "HS256 on a JWKS-only server": { status: 401, error: "invalid_token" },
  "RS256 from the JWK Set": { status: "ok" },
  "EdDSA from the JWK Set": { status: "ok" },
  "valid, right scope": { status: "ok" },
  "valid, wrong scope": { status: 403, error: "insufficient_scope" },
  "static, right scope": { status: "ok" },
  "static, wrong scope": { status: 403, error: "insufficient_scope" },
};

const keys = { rs: signingKey("rs-1", "RS256"), ed: signingKey("ed-1", "EdDSA") };

/** The server the request goes to and the Authorization header for a kind of token, with these scopes. */
async function credentials(kind: Kind, granted: string, denied: string): Promise<{ target: RunningServer; headers: Record<string, string> }> {
  const on = (token: string, target = server) => ({ target, headers: bearer(token) });
  switch (kind) {
    case "none":
      return { target: server, headers: {} };
    case "expired":
      return on(await hs256({ scope: granted, expiresIn: -10 }));
    case "bad signature":
      return on(await hs256({ scope: granted }, `${SECRET}-but-another-one`));
    case "wrong audience":
      return on(await hs256({ scope: granted, audience: "someone-else" }));
    case "wrong issuer":
      return on(await hs256({ scope: granted, issuer: "https://evil.test" }));
    case "alg none":
      return on(unsecured({ scope: granted }));
    case "HS256 on a JWKS-only server":
      return on(await hs256({ scope: granted }), jwksServer);
    case "RS256 from the JWK Set":
      return on(await signWith(await keys.rs, { scope: granted }), jwksServer);
    case "EdDSA from the JWK Set":
      return on(await signWith(await keys.ed, { scope: granted }), jwksServer);
    case "valid, right scope":
      return on(await hs256({ scope: granted }));
    case "valid, wrong scope":
      return on(await hs256({ scope: denied }));
    case "static, right scope":
      return on(staticTokens.get(granted)!);
    case "static, wrong scope":
      return on(staticTokens.get(denied)!);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rill-access-"));
  // Static tokens for every scope the table uses (with the prefix "P" the case substitutes).
  staticTokens = new Map();
  const lines: string[] = [];
  const addStatic = (scope: string) => {
    if (staticTokens.has(scope)) return;
    const { token, line } = createStaticToken(scope);
    staticTokens.set(scope, token);
    lines.push(line);
  };
  ROUTES.forEach((route, index) => {
    addStatic(route.granted(prefixFor(index, "static, right scope")));
    addStatic(route.denied(prefixFor(index, "static, wrong scope")));
  });
  writeFileSync(join(dir, "tokens"), `# test tokens\n${lines.join("\n")}\n`);
  const common = { port: 0, memory: true, longPollTimeoutMs: 500, sseRecycleMs: 60_000 };
  const audience = { audience: AUDIENCE, issuer: ISSUER };
  server = await startServer({ ...common, access: { jwtSecret: SECRET, tokens: join(dir, "tokens"), ...audience } });
  jwks = await hostJwks([await keys.rs, await keys.ed]);
  jwksServer = await startServer({ ...common, access: { jwks: jwks.url, ...audience } });
  rootToken = await hs256({ scope: "read:** write:** delete:** admin" });
});

afterAll(async () => {
  await server?.close();
  await jwksServer?.close();
  await jwks?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Each case works under a stream prefix of its own (static tokens are minted for it in advance). */
const prefixFor = (index: number, kind: Kind) => `c${index}-${kind.replace(/[^a-z0-9]+/gi, "-")}`;

const cases = ROUTES.flatMap((route, index) =>
  (Object.keys(KINDS) as Kind[]).map((kind) => ({ route, index, kind, label: `${route.name} × ${kind}` })),
);

describe("access control: route × token → status", () => {
  it.each(cases)("$label", async ({ route, index, kind }) => {
    const expected = KINDS[kind];
    const p = prefixFor(index, kind);
    const { target, headers } = await credentials(kind, route.granted(p), route.denied(p));
    const setupServer = server;
    if (target !== setupServer) {
      // The JWKS-only server has no shared secret: prepare there with a JWK Set token.
      server = target;
      rootToken = await signWith(await keys.rs, { scope: "read:** write:** delete:** admin" });
    }
    try {
      const request = await route.prepare(p);
      const abort = new AbortController();
      const res = await fetch(`${target.streamsUrl}/${request.path}`, {
        method: request.method,
        headers: { ...request.headers, ...headers },
        body: request.body,
        signal: abort.signal,
      });
      const status = expected.status === "ok" ? route.ok : expected.status;
      expect(res.status).toBe(status);
      const challenge = res.headers.get("www-authenticate");
      if (expected.status === "ok") {
        expect(challenge).toBeNull();
        if (request.method !== "HEAD" && !request.path.includes("live=sse")) await res.arrayBuffer();
        abort.abort();
        return;
      }
      expect(challenge).toMatch(/^Bearer realm="rill"/);
      if (expected.error === null) expect(challenge).toBe('Bearer realm="rill"');
      else expect(challenge).toContain(`error="${expected.error}"`);
      if (request.method === "HEAD") return; // no body to name the problem in
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe({ 401: expected.error === null ? "UNAUTHORIZED" : "INVALID_TOKEN", 403: "INSUFFICIENT_SCOPE" }[status as 401 | 403]);
      expect(body.error.message.length).toBeGreaterThan(10);
    } finally {
      server = setupServer;
      rootToken = await hs256({ scope: "read:** write:** delete:** admin" });
    }
  });
});

describe("open routes", () => {
  it("answers preflights and serves the webhook JWKS without a token", async () => {
    const preflight = await fetch(`${server.streamsUrl}/any/stream`, {
      method: "OPTIONS",
      headers: { origin: "https://app.test", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
    const keysRes = await fetch(`${server.streamsUrl}/__ds/jwks.json`);
    expect(keysRes.status).toBe(200);
    expect(((await keysRes.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });

  it("lets browsers read WWW-Authenticate", async () => {
    const res = await fetch(`${server.streamsUrl}/x`);
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-expose-headers")).toContain("www-authenticate");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});
