/**
 * A throwaway PostgreSQL cluster for fault tests, run by Debian's service
 * tools (pg_createcluster / pg_ctlcluster), so a test can restart or stop
 * "the database" without disturbing the machine's main cluster, which other
 * tests use at the same time. Needs root (as CI and the dev machines run).
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { freePort } from "./serve.js";

const run = promisify(execFile);

export interface PgCluster {
  port: number;
  url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the cluster and its data. */
  drop(): Promise<void>;
}

export async function createPgCluster(name: string): Promise<PgCluster> {
  const version = readdirSync("/etc/postgresql").sort().at(-1)!;
  const port = await freePort();
  const ctl = (action: string) => run("pg_ctlcluster", ["--skip-systemctl-redirect", version, name, action], { timeout: 60_000 });
  // A leftover from an interrupted run would hold the name.
  await run("pg_dropcluster", ["--stop", version, name]).catch(() => undefined);
  await run("pg_createcluster", [version, name, "-p", String(port), "--", "--auth=trust"], { timeout: 60_000 });
  await ctl("start");
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: async () => void (await ctl("restart")),
    stop: async () => void (await ctl("stop")),
    start: async () => void (await ctl("start")),
    drop: async () => void (await run("pg_dropcluster", ["--stop", version, name], { timeout: 60_000 })),
  };
}
