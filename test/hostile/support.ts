/**
 * Helpers for the hostile-client tests: a server's resident memory, and a
 * raw-socket SSE reader that the test can stop draining at will.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops a child process (a `rill serve` started by a test) and waits until it has exited. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
export function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS until stopped; reports the highest seen. */
export function watchRss(pid: number, everyMs = 100): { peak: () => number; stop: () => void } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      clearInterval(timer); // the process is gone (a failed test killed it): nothing left to sample
    }
  }, everyMs);
  return { peak: () => peak, stop: () => clearInterval(timer) };
}

export interface SseEvent {
  event: string;
  /** The data lines joined as the SSE rules say (by "\n"), as bytes. */
  data: Buffer;
}

/**
 * An SSE GET on its own TCP connection, parsed from the raw bytes so the
 * test controls the socket: `socket.pause()` stops reading from the kernel
 * (the server's writes then back up), `socket.resume()` reads again.
 */
export class RawSseReader {
  readonly socket: Socket;
  status = 0;
  headers = "";
  /** Resolves once the response head has arrived. */
  readonly ready: Promise<void>;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;
  private parts: Buffer[] = [];
  private size = 0;
  private headDone = false;
  private headArrived: () => void = () => undefined;

  constructor(
    port: number,
    path: string,
    private readonly onEvent: (event: SseEvent) => void,
  ) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`);
    this.ready = new Promise((resolve) => (this.headArrived = resolve));
    this.closed = new Promise((resolve) => this.socket.once("close", () => resolve()));
    this.socket.on("error", () => undefined);
    this.socket.on("data", (chunk: Buffer) => this.receive(chunk));
  }

  /** Buffers until an event is complete; only then joins the pieces (events here are megabytes long). */
  private receive(chunk: Buffer): void {
    const last = this.parts.length > 0 ? this.parts[this.parts.length - 1]! : null;
    const straddles = last !== null && last[last.length - 1] === 0x0a && chunk[0] === 0x0a;
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.headDone && !straddles && chunk.indexOf("\n\n") < 0) return;
    let pending = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    if (!this.headDone) {
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) {
        this.parts = [pending];
        return;
      }
      this.headers = pending.subarray(0, end).toString("latin1");
      this.status = Number(this.headers.split(" ")[1]);
      pending = pending.subarray(end + 4);
      this.headDone = true;
      this.headArrived();
    }
    let start = 0;
    for (;;) {
      const end = pending.indexOf("\n\n", start);
      if (end < 0) break;
      const event = parseBlock(pending.subarray(start, end));
      start = end + 2;
      if (event) this.onEvent(event);
    }
    const rest = pending.subarray(start);
    this.parts = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
  }
}

function parseBlock(block: Buffer): SseEvent | null {
  let event = "message";
  const data: Buffer[] = [];
  let from = 0;
  while (from <= block.length) {
    let to = block.indexOf(0x0a, from);
    if (to < 0) to = block.length;
    const line = block.subarray(from, to);
    from = to + 1;
    if (line.length === 0 || line[0] === 0x3a) continue; // comment (keep-alive)
    const colon = line.indexOf(0x3a);
    const field = line.subarray(0, colon < 0 ? line.length : colon).toString("latin1");
    let value = colon < 0 ? Buffer.alloc(0) : line.subarray(colon + 1);
    if (value[0] === 0x20) value = value.subarray(1);
    if (field === "event") event = value.toString("utf8");
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  const joined: Buffer[] = [];
  data.forEach((part, i) => {
    if (i > 0) joined.push(Buffer.from("\n"));
    joined.push(part);
  });
  return { event, data: Buffer.concat(joined) };
}
