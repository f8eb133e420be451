import { createStaticToken, startServer, type RunningServer, type ServerOptions } from "@rill/server";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bearer, hs256, SECRET } from "../support/tokens.js";

// What a client notices of access control beyond the status table: which
// streams a listing shows, how responses may be cached, CORS, live reads that
// end with their token, and the subscription consumer's own tokens.

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ROOT = "read:** write:** delete:** admin";

async function start(options: ServerOptions = {}): Promise<string> {
  server = await startServer({ port: 0, memory: true, ...options, access: { jwtSecret: SECRET, ...options.access } });
  return server.streamsUrl;
}

/** A request exactly as given: node:http adds no Origin header of its own (fetch implementations may). */
function rawRequest(url: string, method: string, headers: Record<string, string>, body?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function put(base: string, path: string, body = "x", contentType = "text/plain"): Promise<void> {
  const res = await fetch(`${base}/${path}`, { method: "PUT", headers: { ...bearer(await hs256({ scope: ROOT })), "content-type": contentType }, body });
  expect(res.status).toBe(201);
}

async function list(base: string, token: string | null, query = ""): Promise<{ status: number; paths: string[]; next: string | null }> {
  const res = await fetch(`${base}/__ds/streams${query}`, { headers: token === null ? {} : bearer(token) });
  if (res.status !== 200) return { status: res.status, paths: [], next: null };
  const body = (await res.json()) as { streams: Array<{ path: string }>; next: string | null };
  return { status: 200, paths: body.streams.map((s) => s.path), next: body.next };
}

describe("listing", () => {
  it("shows a caller only the streams it may read, every stream to admin", async () => {
    const base = await start();
    for (const path of ["chat/a", "chat/b", "chat/deep/c", "logs/app", "secret/x"]) await put(base, path);

    expect((await list(base, await hs256({ scope: "read:chat/* write:logs/app" }))).paths).toEqual(["chat/a", "chat/b"]);
    expect((await list(base, await hs256({ scope: "read:chat/** read:logs/app" }))).paths).toEqual(["chat/a", "chat/b", "chat/deep/c", "logs/app"]);
    expect((await list(base, await hs256({ scope: "admin" }))).paths).toEqual(["chat/a", "chat/b", "chat/deep/c", "logs/app", "secret/x"]);
    // Pages are cut before filtering, so following `next` still reaches everything readable.
    const token = await hs256({ scope: "read:logs/** read:secret/x" });
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page = await list(base, token, `?limit=2${after === null ? "" : `&after=${encodeURIComponent(after)}`}`);
      seen.push(...page.paths);
      after = page.next;
    } while (after !== null);
    expect(seen).toEqual(["logs/app", "secret/x"]);

    const nothing = await fetch(`${base}/__ds/streams`, { headers: bearer(await hs256({ scope: "write:** delete:**" })) });
    expect(nothing.status).toBe(403);
    expect(nothing.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(((await nothing.json()) as { error: { message: string } }).error.message).toContain("may read no stream");
    expect((await list(base, null)).status).toBe(401);
  });
});

describe("caching and public streams", () => {
  it("marks answers to tokens private, unless anyone may read the stream without one", async () => {
    const base = await start({ access: { publicScope: "read:public/**" } });
    await put(base, "public/news", "hello");
    await put(base, "private/diary", "dear diary");
    const reader = bearer(await hs256({ scope: "read:**" }));

    const anonymous = await fetch(`${base}/public/news`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get("cache-control")).toBe("no-cache");
    const withToken = await fetch(`${base}/public/news`, { headers: reader });
    expect(withToken.headers.get("cache-control")).toBe("no-cache");

    const diary = await fetch(`${base}/private/diary`, { headers: reader });
    expect(diary.status).toBe(200);
    expect(diary.headers.get("cache-control")).toBe("private, no-cache");
    expect(await diary.text()).toBe("dear diary");
    const head = await fetch(`${base}/private/diary`, { method: "HEAD", headers: reader });
    expect(head.headers.get("cache-control")).toBe("private, no-store");
    expect((await fetch(`${base}/private/diary`)).status).toBe(401);
    // A public scope grants reading only: writing still needs a token.
    expect((await fetch(`${base}/public/news`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" })).status).toBe(401);
  });

  it("keeps historical chunks cacheable only by the reader's own cache", async () => {
    // Reads are cut at message boundaries: two appends, and a read window that holds only the first.
    const base = await start({ maxReadBytes: 4 });
    await put(base, "big", "0123");
    const more = await fetch(`${base}/big`, { method: "POST", headers: { ...bearer(await hs256({ scope: ROOT })), "content-type": "text/plain" }, body: "456789" });
    expect(more.status).toBe(204);
    const res = await fetch(`${base}/big`, { headers: bearer(await hs256({ scope: "read:big" })) });
    expect(res.headers.get("stream-up-to-date")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("private, max-age=60, stale-while-revalidate=300");
  });
  it("marks a streamed catch-up response (several pieces) private too", async () => {
    const base = await start();
    await put(base, "large", "a".repeat(1536 * 1024));
    const more = await fetch(`${base}/large`, { method: "POST", headers: { ...bearer(await hs256({ scope: ROOT })), "content-type": "text/plain" }, body: "b".repeat(1536 * 1024) });
    expect(more.status).toBe(204);
    const res = await fetch(`${base}/large`, { headers: bearer(await hs256({ scope: "read:large" })) });
    expect(res.headers.get("cache-control")).toBe("private, no-cache");
    expect((await res.text()).length).toBe(3 * 1024 * 1024);
  });
});

describe("CORS", () => {
  it("is permissive by default and names only listed origins with --cors-origin", async () => {
    const open = await start();
    expect((await fetch(`${open}/x`, { headers: { origin: "https://anywhere.test" } })).headers.get("access-control-allow-origin")).toBe("*");
    await server!.close();

    const base = await start({ corsOrigin: "https://app.test, http://localhost:5173" });
    const allowed = await fetch(`${base}/x`, { method: "OPTIONS", headers: { origin: "https://app.test" } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.test");
    expect(allowed.headers.get("vary")).toBe("Origin");
    const other = await fetch(`${base}/x`, { headers: { origin: "https://evil.test" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("puts CORS headers on every read, and on a write only when a browser's Origin asks for them", async () => {
    // A browser sends Origin with every POST, PUT and DELETE; a write without one is a server-side client,
    // and no cache keeps a write's answer. Reads keep them always: a cache may hand a read's answer to a browser.
    const base = await start();
    const token = await hs256({ scope: ROOT });
    await put(base, "cors");
    const table: Array<[method: string, path: string, origin: boolean, cors: boolean]> = [
      ["GET", "cors?offset=-1", false, true],
      ["GET", "cors?offset=-1", true, true],
      ["HEAD", "cors", false, true],
      ["GET", "absent?offset=-1", false, true],
      ["POST", "cors", false, false],
      ["POST", "cors", true, true],
      ["PUT", "cors-2", false, false],
      ["PUT", "cors-3", true, true],
      ["DELETE", "cors-2", false, false],
      ["DELETE", "cors-3", true, true],
      ["POST", "absent", false, false],
    ];
    const seen: typeof table = [];
    for (const [method, path, origin] of table) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, "content-type": "text/plain" };
      if (origin) headers.origin = "https://app.test";
      const res = await rawRequest(`${base}/${path}`, method, headers, method === "POST" ? "more" : undefined);
      const exposed = res.headers["access-control-expose-headers"];
      seen.push([method, path, origin, res.headers["access-control-allow-origin"] === "*" && typeof exposed === "string" && exposed.includes("stream-next-offset")]);
      // Whatever the request, browsers are told not to sniff.
      expect(res.headers["x-content-type-options"], `${method} ${path}`).toBe("nosniff");
    }
    expect(seen).toEqual(table);
  });

  it("refuses a malformed origin list at start", async () => {
    await expect(startServer({ port: 0, memory: true, corsOrigin: "app.test" })).rejects.toThrow('not an origin: "app.test"');
  });
});

describe("live reads end with their token", () => {
  it("ends an SSE response at the token's expiry; reconnecting with it is a 401", async () => {
    const base = await start({ sseKeepAliveMs: 200 });
    await put(base, "live", "first");
    const expiresAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
    const token = await hs256({ scope: "read:live", exp: expiresAt / 1000 });
    const res = await fetch(`${base}/live?offset=-1&live=sse`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toMatch(/^private/);
    const reader = res.body!.getReader();
    let text = "";
    const done = (async () => {
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) return Date.now();
        text += Buffer.from(value).toString();
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const append = await fetch(`${base}/live`, { method: "POST", headers: { ...bearer(await hs256({ scope: ROOT })), "content-type": "text/plain" }, body: "second" });
    expect(append.status).toBe(204);
    const endedAt = await done;
    expect(text).toContain("data:first");
    expect(text).toContain("data:second");
    // Ended by the server's housekeeping tick (at most a second apart), never before the expiry.
    expect(endedAt).toBeGreaterThanOrEqual(expiresAt);
    expect(endedAt).toBeLessThan(expiresAt + 1_500);

    const again = await fetch(`${base}/live?offset=-1&live=sse`, { headers: bearer(token) });
    expect(again.status).toBe(401);
    expect(again.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("answers a long-poll that outlives its token with a 401 at the expiry", async () => {
    const base = await start({ longPollTimeoutMs: 20_000 });
    await put(base, "waiting", "x");
    const expiresAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
    const token = await hs256({ scope: "read:waiting", exp: expiresAt / 1000 });
    const res = await fetch(`${base}/waiting?offset=now&live=long-poll`, { headers: bearer(token) });
    const answeredAt = Date.now();
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("expired");
    expect(answeredAt).toBeGreaterThanOrEqual(expiresAt - 5);
    expect(answeredAt).toBeLessThan(expiresAt + 1_000);
  });
});

describe("subscriptions under access control", () => {
  it("keeps the consumer's own signed tokens working while the admin side needs admin", async () => {
    const base = await start();
    const admin = bearer(await hs256({ scope: "admin write:wake/** write:jobs/**" }));
    const worker = bearer(await hs256({ scope: "read:wake/pool read:jobs/**" }));
    const json = { "content-type": "application/json" };
    expect((await fetch(`${base}/wake/pool`, { method: "PUT", headers: { ...admin, ...json }, body: "[]" })).status).toBe(201);
    const config = JSON.stringify({ type: "pull-wake", pattern: "jobs/**", wake_stream: "wake/pool", lease_ttl_ms: 5000 });
    expect((await fetch(`${base}/__ds/subscriptions/jobs`, { method: "PUT", headers: { ...worker, ...json }, body: config })).status).toBe(403);
    expect((await fetch(`${base}/__ds/subscriptions/jobs`, { method: "PUT", headers: { ...admin, ...json }, body: config })).status).toBe(201);

    const written = await fetch(`${base}/jobs/1`, { method: "PUT", headers: { ...admin, ...json }, body: '[{"job":1}]' });
    const tail = written.headers.get("stream-next-offset")!;
    let claim: Response | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      claim = await fetch(`${base}/__ds/subscriptions/jobs/claim`, { method: "POST", headers: { ...worker, ...json }, body: '{"worker":"w1"}' });
      if (claim.status === 200) break;
      await claim.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(claim!.status).toBe(200);
    const { wake_id, generation, token } = (await claim!.json()) as { wake_id: string; generation: number; token: string };
    // The worker reads its work with its own access token ...
    expect(await (await fetch(`${base}/jobs/1`, { headers: worker })).text()).toBe('[{"job":1}]');
    // ... and acknowledges with the subscription's token, which is not a Rill access token.
    const ack = await fetch(`${base}/__ds/subscriptions/jobs/ack`, {
      method: "POST",
      headers: { ...bearer(token), ...json },
      body: JSON.stringify({ wake_id, generation, acks: [{ stream: "jobs/1", offset: tail }], done: true }),
    });
    expect(ack.status).toBe(200);
    expect(await ack.json()).toEqual({ ok: true, next_wake: false });
  });
});

describe("operations endpoints", () => {
  it.each([false, true])("guards /metrics with the admin scope (on its own port: %s), leaves /healthz open", async (ownPort) => {
    await start(ownPort ? { metricsPort: 0 } : {});
    const origin = server!.metricsUrl ?? server!.url;
    const metrics = async (headers: Record<string, string>) => {
      const res = await fetch(`${origin}/metrics`, { headers });
      return { status: res.status, challenge: res.headers.get("www-authenticate"), text: await res.text() };
    };
    expect((await metrics({})).status).toBe(401);
    const reader = await metrics(bearer(await hs256({ scope: "read:** write:**" })));
    expect(reader.status).toBe(403);
    expect(reader.challenge).toBe('Bearer realm="rill", error="insufficient_scope", scope="admin"');
    const admin = await metrics(bearer(await hs256({ scope: "admin" })));
    expect(admin.status).toBe(200);
    expect(admin.text).toContain("# TYPE");
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });
});

describe("static tokens file", () => {
  it("revokes a token within seconds of its line being removed, and ignores an edit that does not parse", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rill-tokens-"));
    const file = join(dir, "tokens");
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const a = createStaticToken("write:**");
      const b = createStaticToken("write:**");
      writeFileSync(file, `${a.line}\n${b.line}\n`);
      server = await startServer({ port: 0, memory: true, access: { tokens: file } });
      const create = async (token: string, path: string) => {
        const res = await fetch(`${server!.streamsUrl}/${path}`, { method: "PUT", headers: { ...bearer(token), "content-type": "text/plain" } });
        await res.arrayBuffer();
        return res.status;
      };
      expect(await create(a.token, "a1")).toBe(201);

      writeFileSync(file, `# a was revoked\n${b.line}\n`);
      await vi.waitFor(async () => expect(await create(a.token, "a2")).toBe(401), { timeout: 5_000, interval: 100 });
      expect(await create(b.token, "b1")).toBe(201);

      writeFileSync(file, `${b.line}\nnot a token line\n`);
      // The file is looked at again when a token comes in: b keeps working throughout.
      let attempt = 0;
      await vi.waitFor(
        async () => {
          expect(await create(b.token, `b2-${attempt++}`)).toBe(201);
          expect(errors).toHaveBeenCalledWith(expect.stringContaining("line 2: expected"));
        },
        { timeout: 5_000, interval: 100 },
      );
    } finally {
      errors.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("configuration mistakes stop the server at start", () => {
  it.each([
    [{ jwtSecret: "short" }, "at least 32 bytes"],
    [{ jwks: "/nonexistent/jwks.json" }, "cannot read the JWK Set file /nonexistent/jwks.json"],
    [{ tokens: "/nonexistent/tokens" }, "cannot read the tokens file /nonexistent/tokens: ENOENT"],
    [{ publicScope: "read:**" }, "publicScope needs access control"],
    [{ jwtSecret: SECRET, publicScope: "reed:x" }, 'unknown scope "reed:x"'],
  ])("%j", async (access, message) => {
    await expect(startServer({ port: 0, memory: true, access })).rejects.toThrow(message);
  });

  it("names the bad line of a tokens file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rill-tokens-"));
    try {
      writeFileSync(join(dir, "tokens"), "# ok\nrill_abc read:**\n");
      await expect(startServer({ port: 0, memory: true, access: { tokens: join(dir, "tokens") } })).rejects.toThrow("tokens line 2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
