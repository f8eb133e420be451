import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort as closedPort } from "../../../test/support/serve.js";
import { collect, httpText, runCli, spawnCli, startTestServer, waitForOutput, type TestServer } from "./helpers.js";

let t: TestServer;
let files: string;
const cli = (args: string[], input?: string) => runCli(args, { env: t.env, input });
const streamUrl = (name: string) => `${t.url}/v1/stream/${name}`;

beforeAll(async () => {
  t = await startTestServer();
  files = mkdtempSync(join(tmpdir(), "rill-cli-files-"));
});
afterAll(async () => {
  await t.stop();
});

describe("help and usage", () => {
  it("lists every verb and the exit codes", async () => {
    const result = await cli(["--help"]);
    expect(result.code).toBe(0);
    for (const verb of ["serve", "create", "append", "read", "tail", "head", "close", "delete", "ls"]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${verb}\\b`, "m"));
    }
    expect(result.stdout).toContain("Exit codes:");
    expect(result.stdout).toMatch(/2\s+stream not found/);
    expect(result.stdout).toContain("RILL_URL");
  });

  it.each(["create", "append", "read", "tail", "head", "close", "delete", "ls"])("rill %s --help", async (verb) => {
    const result = await cli([verb, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: rill ${verb}`);
    expect(result.stdout).toContain("--server");
    expect(result.stdout).toContain("--header");
    expect(result.stdout).toContain("Exit codes:");
  });

  it("exits 1 on usage errors, with one line on stderr", async () => {
    const unknown = await cli(["head", "x", "--bogus"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("rill: unknown option '--bogus' (see rill head --help)\n");
    const missing = await cli(["tail"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("rill: missing required argument 'stream' (see rill tail --help)\n");

    const badHeader = await cli(["head", "x", "-H", "no colon here"]);
    expect(badHeader.code).toBe(1);
    expect(badHeader.stderr).toBe('rill: not a header: "no colon here" (expected "Name: value")\n');

    const badTtl = await cli(["create", "x", "--ttl", "soon"]);
    expect(badTtl.code).toBe(1);
    expect(badTtl.stderr).toContain("not a TTL");

    const badName = await cli(["head", "a/../b"]);
    expect(badName.code).toBe(1);
    expect(badName.stderr.trim().split("\n")).toHaveLength(1);

    const noData = await runCli(["append", "x", "--file", join(files, "missing.txt")], { env: t.env });
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/^rill: cannot read .*missing\.txt: ENOENT\n$/);
  });

  it("exits 4 with one line when the server cannot be reached", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const result = await runCli(["head", "x"], { env: { ...t.env, RILL_URL: down } });
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(`rill: cannot reach ${down}: ECONNREFUSED\n`);
    const list = await runCli(["ls"], { env: { ...t.env, RILL_URL: down } });
    expect(list.code).toBe(4);
    expect(list.stderr).toBe(`rill: cannot reach ${down}: ECONNREFUSED\n`);
  });
});

describe("names, URLs and headers", () => {
  it("expands a bare name against RILL_URL or --server, and passes full URLs through", async () => {
    expect((await cli(["create", "names/one"])).stdout).toBe(`${streamUrl("names/one")}\n`);
    const viaFlag = await runCli(["create", "names/two", "--server", t.url], { env: { RILL_STATE_DIR: t.stateDir } });
    expect(viaFlag.stdout).toBe(`${streamUrl("names/two")}\n`);
    const full = await runCli(["head", streamUrl("names/two"), "--json"], { env: { RILL_URL: `http://127.0.0.1:${await closedPort()}` } });
    expect(full.code).toBe(0);
    expect(JSON.parse(full.stdout).url).toBe(streamUrl("names/two"));
    // A server URL with a path names the stream namespace itself.
    const withPath = await runCli(["head", "names/one", "--json", "--server", `${t.url}/v1/stream/`], { env: {} });
    expect(JSON.parse(withPath.stdout).url).toBe(streamUrl("names/one"));
  });

  it("sends -H headers with every request", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const recorder = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":"NOT_FOUND","message":"nope"}}');
    });
    await new Promise<void>((resolve) => recorder.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    try {
      const result = await runCli(["head", "s", "-H", "Authorization: Bearer sekret", "-H", "X-Tenant: blue"], { env: { RILL_URL: origin } });
      expect(result.code).toBe(2);
      expect(seen[0]?.authorization).toBe("Bearer sekret");
      expect(seen[0]?.["x-tenant"]).toBe("blue");
      const list = await runCli(["ls", "-H", "Authorization: Bearer sekret"], { env: { RILL_URL: origin } });
      expect(list.code).toBe(4);
      expect(list.stderr).toContain("does not offer the stream listing");
      expect(seen[1]?.authorization).toBe("Bearer sekret");
    } finally {
      recorder.close();
    }
  });
});

describe("create", () => {
  it("creates streams with a content type, TTL or expiry, and reports them as JSON", async () => {
    const created = await cli(["create", "c/ttl", "-t", "application/json", "--ttl", "1h", "--json"]);
    expect(created.code).toBe(0);
    const result = JSON.parse(created.stdout);
    expect(result).toMatchObject({ url: streamUrl("c/ttl"), contentType: "application/json", closed: false, ttlSeconds: 3600 });

    await cli(["create", "c/expiring", "--expires-at", "2099-01-01T00:00:00Z"]);
    const head = JSON.parse((await cli(["head", "c/expiring", "--json"])).stdout);
    expect(Date.parse(head.expiresAt)).toBe(Date.parse("2099-01-01T00:00:00Z"));
    expect(head.contentType).toBe("application/octet-stream");
  });

  it("is idempotent with the same settings and a conflict (exit 3) with others", async () => {
    expect((await cli(["create", "c/same", "-t", "text/plain"])).code).toBe(0);
    expect((await cli(["create", "c/same", "-t", "text/plain"])).code).toBe(0);
    const conflict = await cli(["create", "c/same", "-t", "application/json"]);
    expect(conflict.code).toBe(3);
    expect(conflict.stderr).toMatch(/^rill: conflict: .+\n$/);
  });

  it("takes initial data from --data, a file, or stdin, and can create closed", async () => {
    await cli(["create", "c/data", "-t", "text/plain", "--data", "from data\n"]);
    expect((await cli(["read", "c/data"])).stdout).toBe("from data\n");

    const file = join(files, "initial.json");
    writeFileSync(file, '[{"n":1},{"n":2}]');
    await cli(["create", "c/file", "-t", "application/json", "--file", file]);
    expect((await cli(["read", "c/file"])).stdout).toBe('{"n":1}\n{"n":2}\n');

    await cli(["create", "c/stdin", "-t", "text/plain", "--file", "-", "--closed"], "piped in\n");
    expect((await cli(["read", "c/stdin"])).stdout).toBe("piped in\n");
    expect(JSON.parse((await cli(["head", "c/stdin", "--json"])).stdout).closed).toBe(true);

    const badJson = await cli(["create", "c/bad", "-t", "application/json", "--data", "{nope"]);
    expect(badJson.code).toBe(1);
  });
});

describe("append", () => {
  it("appends the data argument, JSON arrays as several messages", async () => {
    await cli(["create", "a/json", "-t", "application/json"]);
    expect((await cli(["append", "a/json", '{"hello":"world"}'])).code).toBe(0);
    const summary = JSON.parse((await cli(["append", "a/json", "[1,2,3]", "--json"])).stdout);
    expect(summary).toMatchObject({ messages: 3, resumed: false });
    expect((await cli(["read", "a/json"])).stdout).toBe('{"hello":"world"}\n1\n2\n3\n');

    const invalid = await cli(["append", "a/json", "{oops"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^rill: not valid JSON .*--json-lines.*\n$/);
  });

  it("appends stdin and files to text streams, byte for byte", async () => {
    await cli(["create", "a/text", "-t", "text/plain"]);
    await cli(["append", "a/text", "one"]);
    await cli(["append", "a/text", "two", "--newline"]);
    await cli(["append", "a/text"], "three\nfour\n");
    writeFileSync(join(files, "five.txt"), "five\n");
    writeFileSync(join(files, "six.txt"), "six");
    const result = await cli(["append", "a/text", "-f", join(files, "five.txt"), "-f", join(files, "six.txt")]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect((await cli(["read", "a/text"])).stdout).toBe("onetwo\nthree\nfour\nfive\nsix");
  });

  it("turns each input line into one JSON message with --json-lines", async () => {
    await cli(["create", "a/lines", "-t", "application/json"]);
    const input = '{"n":1}\n\n{"n":2}\r\n  \n"three"\n[4]';
    const result = await cli(["append", "a/lines", "--json-lines", "--json"], input);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ messages: 4, resumed: false });
    expect((await cli(["read", "a/lines"])).stdout).toBe('{"n":1}\n{"n":2}\n"three"\n[4]\n');

    const bad = await cli(["append", "a/lines", "--json-lines"], '{"ok":1}\nnot json\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^rill: message 2 \(input byte 9\) is not valid JSON/);
  });

  it("exits 2 for a missing stream and 3 for a closed one or the wrong content type", async () => {
    const missing = await cli(["append", "a/missing", "x"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`rill: not found: ${streamUrl("a/missing")}\n`);

    await cli(["create", "a/closed", "-t", "text/plain", "--closed"]);
    const closed = await cli(["append", "a/closed", "x"]);
    expect(closed.code).toBe(3);
    expect(closed.stderr).toBe(`rill: stream is closed: ${streamUrl("a/closed")}\n`);

    await cli(["create", "a/plain", "-t", "text/plain"]);
    const notJson = await cli(["append", "a/plain", "--json-lines"], '{"a":1}\n');
    expect(notJson.code).toBe(3);
    expect(notJson.stderr).toContain("--json-lines needs a JSON stream");
    const mismatch = await cli(["append", "a/plain", '"x"', "--content-type", "application/json"]);
    expect(mismatch.code).toBe(3);
  });

  it("draws no progress bar when stdout and stderr are not terminals, and one when forced", async () => {
    await cli(["create", "a/progress", "-t", "application/json"]);
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i })).join("\n");
    const quiet = await cli(["append", "a/progress", "--json-lines"], lines);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe("");
    expect(quiet.stderr).toBe("");

    const forced = await cli(["append", "a/progress", "--json-lines", "--progress"], lines);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("2,000 msgs");
    expect(forced.stderr).toMatch(/msg\/s/);
  });
});

describe("read", () => {
  beforeAll(async () => {
    await cli(["create", "r/json", "-t", "application/json", "--data", '[{"a":1},{"b":[1,2]}]']);
  });

  it("prints JSON messages one per line, pretty with --json, as sent with --raw", async () => {
    expect((await cli(["read", "r/json"])).stdout).toBe('{"a":1}\n{"b":[1,2]}\n');
    expect((await cli(["read", "r/json", "--json"])).stdout).toBe('{\n  "a": 1\n}\n{\n  "b": [\n    1,\n    2\n  ]\n}\n');
    const raw = (await cli(["read", "r/json", "--raw"])).stdout;
    expect(JSON.parse(raw)).toEqual([{ a: 1 }, { b: [1, 2] }]);
  });

  it("resumes from an offset printed by --offsets", async () => {
    const first = await cli(["read", "r/json", "--offsets"]);
    const offset = /next offset: (\S+)/.exec(first.stderr)?.[1];
    expect(offset).toBeDefined();
    await cli(["append", "r/json", '{"c":3}']);
    expect((await cli(["read", "r/json", "--offset", offset!])).stdout).toBe('{"c":3}\n');
  });

  it("prints binary streams byte for byte", async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10]);
    writeFileSync(join(files, "blob.bin"), bytes);
    await cli(["create", "r/bin", "--file", join(files, "blob.bin")]);
    const child = spawnCli(["read", "r/bin"], { env: t.env });
    const chunks: Buffer[] = [];
    child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(Buffer.concat(chunks)).toEqual(bytes);
  });

  it("exits 2 for a missing stream and 1 for --json on a non-JSON stream", async () => {
    expect((await cli(["read", "r/nothing"])).code).toBe(2);
    const wrong = await cli(["read", "r/bin", "--json"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("--json needs a JSON stream");
  });
});

describe("tail", () => {
  it.each(["sse", "long-poll"])("follows new data live (%s) and exits 0 on SIGINT", async (live) => {
    const name = `t/live-${live}`;
    await cli(["create", name, "-t", "text/plain", "--data", "old\n"]);
    const child = spawnCli(["tail", name, "--live", live, "--offsets"], { env: t.env });
    const done = collect(child);
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await until(() => stderr.includes("next offset:"));
    const output = waitForOutput(child, (text) => text.includes("second\n"));
    await fetch(streamUrl(name), { method: "POST", headers: { "content-type": "text/plain" }, body: "first\n" });
    await fetch(streamUrl(name), { method: "POST", headers: { "content-type": "text/plain" }, body: "second\n" });
    expect(await output).toBe("first\nsecond\n");
    child.kill("SIGINT");
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("old");
  });

  it("starts from an offset and exits 0 when the stream is closed", async () => {
    await cli(["create", "t/closing", "-t", "application/json", "--data", '[{"n":1}]']);
    const child = spawnCli(["tail", "t/closing", "--offset", "-1"], { env: t.env });
    const done = collect(child);
    await waitForOutput(child, (text) => text.includes('{"n":1}'));
    await cli(["close", "t/closing", '{"n":2}']);
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('{"n":1}\n{"n":2}\n');
  });

  it("exits 2 for a missing stream", async () => {
    const result = await cli(["tail", "t/missing"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`rill: not found: ${streamUrl("t/missing")}\n`);
  });
});

describe("head", () => {
  it("prints metadata for people and as JSON", async () => {
    await cli(["create", "h/one", "-t", "text/plain", "--data", "12345"]);
    const human = await cli(["head", "h/one"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^url\s+http:\/\/.*\/v1\/stream\/h\/one$/m);
    expect(human.stdout).toMatch(/^content type\s+text\/plain$/m);
    expect(human.stdout).toMatch(/^closed\s+no$/m);
    const json = JSON.parse((await cli(["head", "h/one", "--json"])).stdout);
    expect(json).toMatchObject({ contentType: "text/plain", closed: false, ttlSeconds: null, expiresAt: null });
    expect(typeof json.offset).toBe("string");
    const missing = await cli(["head", "h/none"]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe("");
  });
});

describe("close and delete", () => {
  it("closes with an optional final message; appends then conflict", async () => {
    await cli(["create", "x/close", "-t", "application/json", "--data", '{"n":1}']);
    const closed = await cli(["close", "x/close", '{"last":true}', "--json"]);
    expect(closed.code).toBe(0);
    const { finalOffset } = JSON.parse(closed.stdout);
    expect((await cli(["read", "x/close"])).stdout).toBe('{"n":1}\n{"last":true}\n');
    expect(JSON.parse((await cli(["head", "x/close", "--json"])).stdout)).toMatchObject({ closed: true, offset: finalOffset });
    expect((await cli(["append", "x/close", '{"n":2}'])).code).toBe(3);
    expect((await cli(["close", "x/close"])).code).toBe(0);
    const again = await cli(["close", "x/close", '{"again":true}']);
    expect(again.code).toBe(3);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect((await cli(["close", "x/none"])).code).toBe(2);
  });

  it("deletes, then exits 2", async () => {
    await cli(["create", "x/delete"]);
    const deleted = await cli(["delete", "x/delete"]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe(`deleted ${streamUrl("x/delete")}\n`);
    expect((await httpText(streamUrl("x/delete"))).status).toBe(404);
    const again = await cli(["delete", "x/delete"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`rill: not found: ${streamUrl("x/delete")}\n`);
  });
});

describe("ls", () => {
  beforeAll(async () => {
    await cli(["create", "ls/b", "-t", "application/json", "--data", '{"x":1}']);
    await cli(["create", "ls/a", "-t", "text/plain", "--ttl", "600"]);
    await cli(["create", "ls/c", "--closed", "--expires-at", "2099-01-01T00:00:00Z"]);
  });

  it("lists streams under a prefix with size, tail offset, type, state and expiry", async () => {
    const result = await cli(["ls", "ls/"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+SIZE\s+TAIL OFFSET\s+CONTENT TYPE\s+STATE\s+EXPIRES$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(["ls/a", "ls/b", "ls/c"]);
    expect(lines[1]).toMatch(/text\/plain\s+open\s+ttl 600s$/);
    expect(lines[2]).toMatch(/^ls\/b\s+\d+ B\s+\d+_\d+\s+application\/json\s+open\s+-$/);
    expect(lines[3]).toMatch(/closed\s+2099-01-01T00:00:00\.000Z$/);
  });

  it("prints JSON, honours --limit, and pages through long listings", async () => {
    const json = JSON.parse((await cli(["ls", "ls/", "--json"])).stdout);
    expect(json.map((s: { path: string }) => s.path)).toEqual(["ls/a", "ls/b", "ls/c"]);
    expect(json[1]).toMatchObject({ contentType: "application/json", closed: false });
    expect(json[1].bytes).toBeGreaterThan(0);
    const limited = JSON.parse((await cli(["ls", "ls/", "--json", "--limit", "2"])).stdout);
    expect(limited).toHaveLength(2);

    for (let i = 0; i < 1005; i++) {
      await fetch(streamUrl(`many/s${String(i).padStart(4, "0")}`), { method: "PUT" });
    }
    const all = JSON.parse((await cli(["ls", "many/", "--json"])).stdout);
    expect(all).toHaveLength(1005);
    expect(all[1004].path).toBe("many/s1004");
    const none = await cli(["ls", "nothing-here/"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("");
  });
});

/** A port nothing listens on (bound, then released). */
async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
