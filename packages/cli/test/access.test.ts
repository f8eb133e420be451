import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Serve } from "../../../test/support/serve.js";
import { openServerWarning } from "../dist/serve.js";
import { cleanEnv, runCli, spawnCli, waitForOutput } from "./helpers.js";

// Access control from the command line: minting static tokens, serving with
// them, and client verbs that send one (--token or RILL_TOKEN).

let dir: string;
let server: Serve;
let writer: string;
let reader: string;

async function mint(scope: string): Promise<{ token: string; line: string }> {
  const result = await runCli(["token", "create", "--scope", scope]);
  expect(result.code).toBe(0);
  const [token, line, ...rest] = result.stdout.split("\n");
  expect(rest).toEqual([""]);
  return { token: token!, line: line! };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rill-cli-access-"));
  const w = await mint("read:logs/** write:logs/** delete:logs/**");
  const r = await mint("read:logs/app");
  writer = w.token;
  reader = r.token;
  writeFileSync(join(dir, "tokens"), `# CLI test tokens\n${w.line}\n${r.line}\n`);
  server = await serve(["--memory", "--port", "0", "--tokens", join(dir, "tokens")], { env: cleanEnv() });
}, 30_000);
afterAll(() => {
  server?.child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({ RILL_URL: server.origin, RILL_STATE_DIR: dir, ...extra });

describe("rill token create", () => {
  it("prints a new token once and the tokens-file line holding only its hash", async () => {
    const result = await runCli(["token", "create", "--scope", "read:chat/**  admin"]);
    expect(result.code).toBe(0);
    const [token, line] = result.stdout.split("\n");
    expect(token).toMatch(/^rill_[A-Za-z0-9_-]{43}$/);
    expect(line).toMatch(/^sha256:[0-9a-f]{64} read:chat\/\*\* admin$/);
    expect(line).not.toContain(token!.slice(5));
    expect(result.stderr).toContain("cannot be shown again");
    const another = await mint("read:chat/**");
    expect(another.token).not.toBe(token);
  });

  it("refuses scopes it does not understand, in one line", async () => {
    const bad = await runCli(["token", "create", "--scope", "read:chat/** wrte:chat"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('rill: unknown scope "wrte:chat" (expected read:<pattern>, write:<pattern>, delete:<pattern> or admin)\n');
    const missing = await runCli(["token", "create"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("--scope");
  });
});

describe("client verbs with a token", () => {
  it("send --token or RILL_TOKEN as a bearer token, and fail clearly without one", async () => {
    expect((await runCli(["create", "logs/app", "--content-type", "text/plain", "--token", writer], { env: env() })).code).toBe(0);
    const appended = await runCli(["append", "logs/app", "hello"], { env: env({ RILL_TOKEN: writer }) });
    expect(appended.code).toBe(0);
    expect((await runCli(["create", "logs/other", "--token", writer], { env: env() })).code).toBe(0);

    const read = await runCli(["read", "logs/app"], { env: env({ RILL_TOKEN: reader }) });
    expect(read.code).toBe(0);
    expect(read.stdout).toBe("hello");

    const anonymous = await runCli(["read", "logs/app"], { env: env() });
    expect(anonymous.code).toBe(4);
    expect(anonymous.stderr).toBe(
      "rill: server answered 401: this request needs an access token (Authorization: Bearer <token>) (pass --token <token> or set RILL_TOKEN)\n",
    );
    const forbidden = await runCli(["append", "logs/app", "more", "--token", reader], { env: env() });
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toContain("server answered 403: this token does not grant write:logs/app");

    const unlisted = await runCli(["ls"], { env: env() });
    expect(unlisted.code).toBe(4);
    expect(unlisted.stderr).toContain("server answered 401: this request needs an access token");
    expect(unlisted.stderr).toContain("(pass --token <token> or set RILL_TOKEN)");

    const listed = await runCli(["ls", "--json"], { env: env({ RILL_TOKEN: reader }) });
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as Array<{ path: string }>).map((s) => s.path)).toEqual(["logs/app"]);
  });

  it("rejects a --token that cannot be a bearer token", async () => {
    const result = await runCli(["head", "logs/app", "--token", "two words"], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("not a bearer token");
  });
});

describe("rill serve", () => {
  it.each([
    [[], "access: open (no access control)"],
    [["--jwt-secret", "x".repeat(40), "--public-scope", "read:pub/**"], "access: bearer tokens required (HS256 JWTs); without a token: read:pub/**"],
  ])("says in its start event whether access control is on (%j)", async (args, line) => {
    const child = spawnCli(["serve", "--memory", "--port", "0", ...args]);
    try {
      // Not a terminal: the banner is the JSON start event, with the same facts as fields.
      const out = await waitForOutput(child, (text) => text.includes('"event":"start"') && text.endsWith("\n"));
      const start = JSON.parse(out.split("\n").find((entry) => entry.includes('"event":"start"'))!) as { access: string };
      expect(`access: ${start.access}`).toBe(line);
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("refuses to start with a secret too short to be safe", async () => {
    const result = await runCli(["serve", "--memory", "--port", "0", "--jwt-secret", "short"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("at least 32 bytes");
  });

  it("warns about an open server on a non-loopback address only", () => {
    expect(openServerWarning("0.0.0.0", false)).toMatch(/^rill: WARNING: listening on 0\.0\.0\.0 with no access control/);
    expect(openServerWarning("::", false)).toContain("--jwt-secret, --jwks or --tokens");
    expect(openServerWarning("192.168.1.10", false)).not.toBeNull();
    expect(openServerWarning("0.0.0.0", true)).toBeNull();
    for (const loopback of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(openServerWarning(loopback, false)).toBeNull();
  });
});
