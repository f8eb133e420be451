import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Serve } from "../../../test/support/serve.js";
import { cleanEnv, runCli } from "./helpers.js";

/** `rill serve --retention` and `--compaction-lag`, as users pass them. */
let server: Serve;

beforeAll(async () => {
  server = await serve(
    ["--memory", "--port", "0", "--retention", "logs/**=7d,10GiB", "--retention", "logs/audit/*=365d", "--compaction-lag", "2m"],
    { env: cleanEnv() },
  );
}, 30_000);
afterAll(() => {
  server?.child.kill("SIGTERM");
});

describe("rill serve --retention", () => {
  it("gives matching streams the most specific default, reported on HEAD", async () => {
    const base = `${server.origin}/v1/stream`;
    for (const name of ["logs/web", "logs/audit/db", "chat/room"]) {
      expect((await fetch(`${base}/${name}`, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);
    }
    const head = async (name: string) => (await fetch(`${base}/${name}`, { method: "HEAD" })).headers;
    expect((await head("logs/web")).get("rill-retention-age")).toBe("604800");
    expect((await head("logs/web")).get("rill-retention-bytes")).toBe(String(10 * 2 ** 30));
    expect((await head("logs/audit/db")).get("rill-retention-age")).toBe(String(365 * 86_400));
    expect((await head("logs/audit/db")).get("rill-retention-bytes")).toBeNull();
    expect((await head("chat/room")).get("rill-retention-age")).toBeNull();
  });

  it("refuses a malformed rule, naming it, without starting", async () => {
    const result = await runCli(["serve", "--memory", "--port", "0", "--retention", "logs/**=7 days"], { env: cleanEnv() });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("7 days");
  });
});
