/**
 * What a newcomer hits first (issue #14): a server that is down or goes
 * away, a bad line deep in an append, an append run twice, bad options, and
 * --json errors. Every case checks the exit code and the one line on stderr.
 */
import { startServer, type RunningServer } from "@rill/server";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, runCli, spawnCli, startTestServer, type TestServer } from "./helpers.js";
import { freePort as closedPort } from "../../../test/support/serve.js";

let t: TestServer;
let dir: string;
const streamUrl = (name: string) => `${t.url}/v1/stream/${name}`;

beforeAll(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), "rill-failures-"));
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createJsonStream(name: string): Promise<void> {
  const response = await fetch(streamUrl(name), { method: "PUT", headers: { "content-type": "application/json" } });
  expect(response.status).toBe(201);
}

async function messageCount(name: string): Promise<number> {
  const response = await fetch(`${streamUrl(name)}?offset=-1`);
  return ((await response.json()) as unknown[]).length;
}

function jsonLines(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `${JSON.stringify({ i, pad: "p".repeat(40) })}\n`;
  return text;
}

describe("a server that is down", () => {
  it.each([["read"], ["head"], ["append"], ["delete"], ["tail"]])("rill %s fails fast with exit 4 and one line", async (verb) => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const args = verb === "append" ? [verb, "x", "data"] : [verb, "x"];
    // What starting the CLI costs on this machine right now, so that the bound below is about retrying alone.
    let started = Date.now();
    expect((await runCli(["--version"], { env: t.env })).code).toBe(0);
    const startup = Date.now() - started;
    started = Date.now();
    const result = await runCli(args, { env: { ...t.env, RILL_URL: down }, timeoutMs: 10_000 });
    const elapsed = Date.now() - started;
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(`rill: cannot reach ${down}: ECONNREFUSED\n`);
    // Two quick retries (at most 100 + 200 ms of backoff), then the answer, instead of retrying forever.
    expect(elapsed - startup).toBeLessThan(2500);
  });
});

describe("tail when its server goes away", () => {
  let dataDir: string;
  let server: RunningServer;
  let port: number;
  const start = async () => {
    server = await startServer({ port, dataDir, longPollTimeoutMs: 2000 });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rill-tail-restart-"));
    port = await closedPort();
    await start();
  });
  afterAll(async () => {
    await server.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("says it is reconnecting, resumes after a restart without losing data, and gives up after --retry-for", async () => {
    const url = `${server.url}/v1/stream/tail/restart`;
    expect((await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } })).status).toBe(201);
    const post = (body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post({ n: 1 })).status).toBe(204);
    const child = spawnCli(["tail", url, "--offset", "-1", "--retry-for", "10s"], { env: t.env });
    const done = collect(child, 60_000);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));

    await expect.poll(() => stdout, { timeout: 10_000 }).toContain('{"n":1}');
    await server.close();
    await expect.poll(() => stderr.split("\n")[0], { timeout: 10_000 }).toMatch(/^rill: lost http:\/\/127\.0\.0\.1:\d+ \([^)]+\); reconnecting, for up to 10s \(--retry-for\)…$/);

    await start();
    expect((await post({ n: 2 })).status).toBe(204);
    await expect.poll(() => stdout, { timeout: 10_000 }).toContain('{"n":2}');
    expect(stderr).toMatch(/rill: reconnected to http:\/\/127\.0\.0\.1:\d+ after [\d.]+m?s\n$/);
    expect(stdout.match(/"n":1/g)).toHaveLength(1);

    await server.close();
    const result = await done;
    expect(result.code).toBe(4);
    expect(stderr.trimEnd().split("\n").at(-1)).toMatch(/^rill: gave up after 10s without reaching http:\/\/127\.0\.0\.1:\d+: \S.*$/);
  }, 60_000);
});

describe("a bad line deep in --json-lines input", () => {
  it("exits 5, says how much is in the stream, and resumes once the line is fixed", async () => {
    await createJsonStream("bad/lines");
    const file = join(dir, "bad.jsonl");
    const before = jsonLines(0, 3000);
    const after = jsonLines(3001, 4000);
    writeFileSync(file, `${before}{"i": 3000, oops\n${after}`);
    const args = ["append", "bad/lines", "--json-lines", "--file", file, "--batch-size", "8KiB"];

    const failed = await runCli(args, { env: t.env });
    expect(failed.code).toBe(5);
    const lines = failed.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const appended = await messageCount("bad/lines");
    expect(appended).toBeGreaterThan(2500);
    expect(appended).toBeLessThan(3001);
    expect(lines[0]).toContain("message 3001 (input byte");
    expect(lines[0]).toContain("is not valid JSON");
    expect(lines[0]).toContain(`; ${appended.toLocaleString("en-US")} messages (the first `);
    expect(lines[0]).toMatch(/are in the stream: fix the input, then run the same command again to resume after them$/);

    writeFileSync(file, `${before}{"i": 3000}\n${after}`);
    const resumed = await runCli([...args, "--json"], { env: t.env });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/^rill: resuming: /);
    const all = (await (await fetch(`${streamUrl("bad/lines")}?offset=-1`)).json()) as Array<{ i: number }>;
    expect(all.map((message) => message.i)).toEqual(Array.from({ length: 4000 }, (_, i) => i));
  }, 60_000);

  it("exits 1 and leaves nothing to resume when the bad line comes before anything was appended", async () => {
    await createJsonStream("bad/first");
    const file = join(dir, "bad-first.jsonl");
    writeFileSync(file, "not json\n");
    const result = await runCli(["append", "bad/first", "--json-lines", "--file", file], { env: t.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^rill: message 1 \(input byte 0\) is not valid JSON: .*\n$/);
    expect(await messageCount("bad/first")).toBe(0);
  });
});

describe("running a finished append again", () => {
  it("is refused with exit 3 unless --again is given", async () => {
    await createJsonStream("again/file");
    const file = join(dir, "again.jsonl");
    writeFileSync(file, jsonLines(0, 50));
    const args = ["append", "again/file", "--json-lines", "--file", file];
    expect((await runCli(args, { env: t.env })).code).toBe(0);

    const refused = await runCli(args, { env: t.env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(new RegExp(`^rill: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} was already appended to \\S+ in full on \\S+: 50 messages; use --again to append it again\\n$`));
    expect(await messageCount("again/file")).toBe(50);

    const again = await runCli([...args, "--again", "--json"], { env: t.env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ messages: 50, resumed: false });
    expect(await messageCount("again/file")).toBe(100);
  });

  it("appends standard input from a pipe every time (a pipe cannot be told from new data)", async () => {
    await createJsonStream("again/pipe");
    const args = ["append", "again/pipe", "--json-lines"];
    expect((await runCli(args, { env: t.env, input: '{"a":1}\n' })).code).toBe(0);
    expect((await runCli(args, { env: t.env, input: '{"a":1}\n' })).code).toBe(0);
    expect(await messageCount("again/pipe")).toBe(2);
  });
});

describe("usage errors and the error format", () => {
  it("an invalid --offset is a usage error (1) that names the flag", async () => {
    await createJsonStream("usage/offset");
    for (const verb of ["read", "tail"]) {
      const result = await runCli([verb, "usage/offset", "--offset", "banana"], { env: t.env });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('rill: invalid --offset "banana" (invalid offset: "banana"); use -1, now, or an offset printed by --offsets\n');
    }
  });

  it("--json makes errors JSON too, usage errors included", async () => {
    const missing = await runCli(["head", "usage/nowhere", "--json"], { env: t.env });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { message: `not found: ${streamUrl("usage/nowhere")}`, exitCode: 2 } });
    const unknown = await runCli(["head", "x", "--json", "--bogus"], { env: t.env });
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toEqual({ error: { message: "unknown option '--bogus' (see rill head --help)", exitCode: 1 } });
  });
});
