/**
 * `rill` as a newcomer meets it (issue #14): run through npx from the
 * checkout, `rill serve` failing to start for the usual reasons, and
 * `rill serve | head -1`. Start-up failures exit 6 with one line that names
 * the flag or path.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve } from "../../../test/support/serve.js";
import { BIN, cleanEnv, runCli } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../bin/rill.js", import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "rill-startup-"));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `rill serve <args>` until it exits; a server that starts instead is a failure of the test. */
function serveFails(args: string[], options: { uid?: number } = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], {
      env: cleanEnv(),
      cwd: dir,
      uid: options.uid,
      gid: options.uid,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      if (chunk.includes("rill listening")) {
        child.kill("SIGKILL");
        reject(new Error(`rill serve ${args.join(" ")} started, but should have failed`));
      }
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("npx rill from the checkout", () => {
  it("links the rill bin to a launcher that exists before the build, and npx runs it", () => {
    const linked = join(ROOT, "node_modules", ".bin", "rill");
    expect(realpathSync(linked)).toBe(realpathSync(LAUNCHER));
    const npx = spawnSync("npx", ["--no-install", "rill", "--help"], { cwd: ROOT, encoding: "utf8", env: cleanEnv() });
    expect(npx.stderr).toBe("");
    expect(npx.status).toBe(0);
    expect(npx.stdout).toMatch(/^Usage: rill \[options\] \[command\]/);
  });

  it("works as a global `rill` through a symlink on PATH, as the README says", () => {
    const binDir = mkdtempSync(join(dir, "bin-"));
    symlinkSync(LAUNCHER, join(binDir, "rill"));
    expect(readlinkSync(join(binDir, "rill"))).toBe(LAUNCHER);
    const run = spawnSync("rill", ["--version"], { cwd: dir, encoding: "utf8", env: cleanEnv({ PATH: `${binDir}:${process.env.PATH}` }) });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("rill serve cannot start", () => {
  it("names --port when the port is in use", async () => {
    const first = await serve(["--memory", "--port", "0"]);
    try {
      const port = new URL(first.origin).port;
      const result = await serveFails(["--memory", "--port", port]);
      expect(result.code).toBe(6);
      expect(result.stderr).toBe(`rill: port ${port} on 127.0.0.1 is already in use (another rill serve?): stop it, or choose another port with --port (or PORT)\n`);
    } finally {
      first.child.kill("SIGTERM");
    }
  });

  // Root may write anywhere, so the unwritable cases run as "nobody" when the tests run as root.
  const asOther = process.getuid?.() === 0 ? { uid: 65534 } : {};

  it("names the path and --data-dir when the data directory is not writable", async () => {
    const readOnly = join(dir, "read-only");
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    const target = process.getuid?.() === 0 ? readOnly : "/rill-cannot-create-this";
    const result = await serveFails(["--data-dir", target], asOther);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(
      new RegExp(`^rill: cannot use the data directory ${target} \\(--data-dir, RILL_DATA_DIR\\): this user may not write there.*; fix its permissions, or choose a directory this user owns with --data-dir\\n$`),
    );
  });

  it("names the path when the data directory holds another user's files", async () => {
    const shared = join(dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    // Another user's server ran here first and left its database files.
    const owner = await serve(["--data-dir", shared, "--port", "0"], { env: cleanEnv() });
    owner.child.kill("SIGTERM");
    await new Promise((resolve) => owner.child.once("exit", resolve));
    const root = process.getuid?.() === 0;
    // Without root there is no other user to be: make the files read-only for their owner instead.
    if (!root) for (const file of ["rill.db", "subscriptions.db"]) chmodSync(join(shared, file), 0o400);
    const result = await serveFails(["--data-dir", shared], asOther);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(new RegExp(`^rill: cannot use the data directory ${shared} \\(--data-dir, RILL_DATA_DIR\\): .*--data-dir\\n$`));
    if (root) expect(result.stderr).toContain("(it belongs to uid 0, this is uid 65534)");
    expect(result.stderr).not.toMatch(/EPERM|chmod|unable to open database file/);
  });

  it("names --database-url when --store postgres has none, as a usage error", async () => {
    const result = await serveFails(["--store", "postgres"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("rill: --store postgres needs --database-url <url> (or DATABASE_URL), e.g. postgres://user@127.0.0.1:5432/rill\n");
  });

  it("names --database-url when PostgreSQL cannot be used", async () => {
    const refused = await serveFails(["--store", "postgres", "--database-url", "postgres://postgres@127.0.0.1:1/test"]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toBe("rill: cannot use PostgreSQL at postgres://postgres@127.0.0.1:1/test (--database-url, DATABASE_URL): ECONNREFUSED\n");
    const role = await serveFails(["--store", "postgres", "--database-url", "postgres://no_such_role_rill:secret@127.0.0.1:5432/test"]);
    expect(role.code).toBe(6);
    expect(role.stderr).toBe('rill: cannot use PostgreSQL at postgres://no_such_role_rill:***@127.0.0.1:5432/test (--database-url, DATABASE_URL): role "no_such_role_rill" does not exist\n');
  });

  it("reports bad options in the same one-line format as every verb", async () => {
    const result = await runCli(["serve", "--bogus"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("rill: unknown option '--bogus' (see rill serve --help)\n");
    const port = await runCli(["serve", "--port", "http"]);
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/^rill: option '-p, --port <port>' argument 'http' is invalid\. not a port number: "http" \(see rill serve --help\)\n$/);
  });
});

describe("rill serve | head -1", () => {
  it("shuts down cleanly on SIGTERM after its reader went away, without an EPIPE stack", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--memory", "--port", "0"], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // Read the first line, then close the pipe as `head -1` does.
    const first = await new Promise<string>((resolve) => child.stdout!.setEncoding("utf8").once("data", (chunk: string) => resolve(chunk)));
    // A pipe is not a terminal: the first line is the JSON start event.
    expect((JSON.parse(first.split("\n")[0]!) as { event: string; msg: string }).msg).toMatch(/^rill listening on /);
    child.stdout!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});
