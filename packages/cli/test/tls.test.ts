/**
 * `rill serve` over TLS as an operator runs it, and the client verbs against
 * it: the self-signed development certificate (made once, reused, its
 * fingerprint printed), certificate files reloaded on SIGHUP while an open
 * HTTP/2 connection keeps working, and --insecure / RILL_CA in the verbs.
 */
import { createSelfSignedCertificate } from "@rill/server";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { collect, runCli, spawnCli, waitForOutput } from "./helpers.js";
import type { ChildProcess } from "node:child_process";

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "rill-cli-tls-"));
  dirs.push(dir);
  return dir;
}

interface StartEvent {
  url: string;
  protocols: string;
  tls: string | null;
}

/** Waits for the JSON log event `name` on a child's stdout (not a terminal, so it logs JSON lines). */
async function eventOf<T>(child: ChildProcess, name: string): Promise<T> {
  const marker = `"event":"${name}"`;
  // A cold start of the CLI (server, TLS, metrics modules) can take several seconds on a loaded
  // machine; the test's own timeout (20 s) bounds it, not a shorter wait of its own.
  const out = await waitForOutput(
    child,
    (text) => text.split("\n").some((line) => line.includes(marker) && line.endsWith("}")),
    18_000,
  );
  return JSON.parse(out.split("\n").find((line) => line.includes(marker))!) as T;
}

/** Starts `rill serve` and returns its origin and its start event. */
async function serveTls(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; origin: string; start: StartEvent }> {
  const child = spawnCli(["serve", "--memory", "--port", "0", "--no-console", ...args], { env });
  children.push(child);
  const start = await eventOf<StartEvent>(child, "start");
  expect(start.url).toMatch(/^https:\/\//);
  return { child, origin: start.url, start };
}

/** The SHA-256 fingerprint of the certificate a new TLS connection is given. */
function servedFingerprint(origin: string): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false, ALPNProtocols: ["h2"] }, () => {
      const fingerprint = socket.getPeerX509Certificate()!.fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.on("error", reject);
  });
}

function h2get(session: ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    stream.on("response", (headers) => resolve(Number(headers[":status"])));
    stream.on("error", reject);
    stream.resume();
  });
}

describe("rill serve --tls-self-signed", () => {
  it("creates a certificate once, reuses it on the next start, and prints its fingerprint", async () => {
    const dataDir = tempDir();
    const first = await serveTls(["--tls-self-signed", "--data-dir", dataDir]);
    expect(first.start.protocols).toBe("HTTP/2 and HTTP/1.1 over TLS");
    expect(first.start.tls).toMatch(/self-signed certificate for localhost, created/);
    const printed = /SHA-256 ([0-9A-F:]+)/.exec(first.start.tls!)![1]!;
    expect(await servedFingerprint(first.origin)).toBe(printed);
    first.child.kill("SIGTERM");
    await collect(first.child);

    const second = await serveTls(["--tls-self-signed", "--data-dir", dataDir]);
    expect(second.start.tls).toMatch(/self-signed certificate for localhost, reused/);
    expect(second.start.tls).toContain(printed);
  });

  it("client verbs refuse it by default, and accept it with --insecure or with RILL_CA", async () => {
    const dataDir = tempDir();
    const { origin } = await serveTls(["--tls-self-signed", "--data-dir", dataDir]);
    const refused = await runCli(["create", "t", "-s", origin]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/cannot verify the TLS certificate of https:\/\/127\.0\.0\.1:\d+: DEPTH_ZERO_SELF_SIGNED_CERT/);
    expect(refused.stderr).toContain("--insecure");

    expect((await runCli(["create", "t", "-s", origin, "--insecure"])).code).toBe(0);
    const ca = join(dataDir, "tls", "localhost-cert.pem");
    expect((await runCli(["append", "t", "over https", "-s", origin], { env: { RILL_CA: ca } })).code).toBe(0);
    const read = await runCli(["read", "t", "-s", origin, "--ca", ca]);
    expect(read.code).toBe(0);
    expect(read.stdout).toBe("over https");

    const missing = await runCli(["read", "t", "-s", origin, "--ca", join(dataDir, "nope.pem")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("cannot read the CA file");
  });
});

describe("rill serve --tls-cert/--tls-key", () => {
  it("reloads the certificate on SIGHUP for new connections, keeping open ones", async () => {
    const dir = tempDir();
    const certPath = join(dir, "cert.pem");
    const keyPath = join(dir, "key.pem");
    const before = createSelfSignedCertificate();
    const after = createSelfSignedCertificate();
    writeFileSync(certPath, before.cert);
    writeFileSync(keyPath, before.key);
    const { child, origin } = await serveTls([], { RILL_TLS_CERT: certPath, RILL_TLS_KEY: keyPath });
    expect(await servedFingerprint(origin)).toBe(new X509Certificate(before.cert).fingerprint256);

    const session = h2connect(origin, { ca: before.cert });
    try {
      expect(await h2get(session, "/v1/stream/none")).toBe(404);
      writeFileSync(certPath, after.cert);
      writeFileSync(keyPath, after.key);
      const reloaded = eventOf<{ tls: string }>(child, "tls-reload");
      child.kill("SIGHUP");
      expect((await reloaded).tls).toContain(new X509Certificate(after.cert).fingerprint256);
      expect(await servedFingerprint(origin)).toBe(new X509Certificate(after.cert).fingerprint256);
      // The connection made before the reload is still open and serving.
      expect(session.closed || session.destroyed).toBe(false);
      expect(await h2get(session, "/v1/stream/none")).toBe(404);

      // A broken file on the next SIGHUP keeps the current certificate.
      writeFileSync(keyPath, "not a key");
      const refused = eventOf<{ msg: string }>(child, "tls-reload-failed");
      child.kill("SIGHUP");
      expect((await refused).msg).toContain(`not a PEM private key: "${keyPath}"`);
      expect(await servedFingerprint(origin)).toBe(new X509Certificate(after.cert).fingerprint256);
    } finally {
      session.destroy();
    }
  });

  it("names the problem with bad TLS flags", async () => {
    const dir = tempDir();
    const onlyCert = await runCli(["serve", "--memory", "--port", "0", "--tls-cert", join(dir, "c.pem")]);
    expect(onlyCert.code).not.toBe(0);
    expect(onlyCert.stderr).toContain("--tls-cert and --tls-key go together");
    writeFileSync(join(dir, "c.pem"), "garbage");
    writeFileSync(join(dir, "k.pem"), "garbage");
    const garbage = await runCli(["serve", "--memory", "--port", "0", "--tls-cert", join(dir, "c.pem"), "--tls-key", join(dir, "k.pem")]);
    expect(garbage.stderr).toContain(`not a PEM certificate: "${join(dir, "c.pem")}"`);
    const both = await runCli(["serve", "--memory", "--port", "0", "--h2c", "--tls-self-signed"]);
    expect(both.stderr).toContain("--h2c is cleartext HTTP/2");
  });
});
