// A cheap HTTP/1.1 GET client for the catch-up generator: one plain keep-alive TCP
// socket, a hand-written response reader (Content-Length or chunked bodies) that counts
// body bytes without keeping them, and the time the first body byte arrived. A hundred
// readers taking a GB/s through undici's body streams and async iterators saturate the
// generator's own event loop, and a reader's "first byte" then waits on the generator as
// much as on the server; with this the generator does little more than read its sockets.
import { connect } from "node:net";

const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

/** Counts the content bytes of a chunked body as it streams in (sizes, extensions and CRLFs excluded). */
export class ChunkedCounter {
  remaining = 0; // data bytes of the current chunk still to come, then its CRLF
  trailing = 0; // CRLF bytes after the data still to skip
  line = Buffer.alloc(0);
  done = false;

  /**
   * Content bytes in `chunk` (each run of them handed to `onContent` when given); sets `done` after
   * the last chunk.
   */
  count(chunk, onContent) {
    let content = 0;
    let at = 0;
    while (at < chunk.length && !this.done) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        onContent?.(chunk.subarray(at, at + take));
        content += take;
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.trailing = 2;
        continue;
      }
      if (this.trailing > 0) {
        const skip = Math.min(this.trailing, chunk.length - at);
        this.trailing -= skip;
        at += skip;
        continue;
      }
      const newline = chunk.indexOf(CRLF, at);
      if (newline === -1) {
        this.line = Buffer.concat([this.line, chunk.subarray(at)]);
        break;
      }
      const sizeLine = Buffer.concat([this.line, chunk.subarray(at, newline)]).toString("latin1");
      this.line = Buffer.alloc(0);
      at = newline + 2;
      const size = parseInt(sizeLine, 16);
      // The last chunk: a size of 0, then (no trailers from the servers measured here) a blank line.
      if (size === 0) {
        this.done = true;
        break;
      }
      this.remaining = size;
    }
    return content;
  }
}

function parseHead(text) {
  const lines = text.split("\r\n");
  const status = Number(lines[0].slice(9, 12));
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/** One keep-alive connection; `get(path)` one request at a time. */
export class RawHttpConnection {
  #socket;
  #ready;
  #pending = null; // the request being answered
  #buffered = Buffer.alloc(0);

  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.#connect();
  }

  #connect() {
    const socket = connect({ host: this.host, port: this.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#ready = new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    // Unhandled otherwise when nobody waits on the connection.
    this.#ready.catch(() => undefined);
    this.#buffered = Buffer.alloc(0);
    // A replaced socket's late events concern nobody.
    const current = () => socket === this.#socket;
    socket.on("data", (chunk) => current() && this.#onData(chunk));
    socket.on("error", (error) => current() && this.#fail(error));
    socket.on("close", () => current() && this.#fail(new Error("the connection closed before the response ended")));
  }

  /**
   * GET `path`: resolves with { status, headers, bytes, firstByteAt, body } once the whole body has
   * arrived; `body` (a Buffer) only with `keepBody`, else null.
   */
  async get(path, headers = {}, { keepBody = false } = {}) {
    // The server may close a keep-alive connection between responses (Connection: close, idle timeout).
    if (this.#socket.destroyed || this.#socket.readableEnded) this.#connect();
    await this.#ready;
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, head: null, bytes: 0, length: null, chunked: null, firstByteAt: null, parts: keepBody ? [] : null };
      this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${extra}\r\n`);
    });
  }

  close() {
    this.#socket.destroy();
  }

  #onData(chunk) {
    const request = this.#pending;
    if (request === null) return;
    if (request.head === null) {
      this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
      const end = this.#buffered.indexOf(HEAD_END);
      if (end === -1) return;
      request.head = parseHead(this.#buffered.subarray(0, end).toString("latin1"));
      const { headers } = request.head;
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) request.chunked = new ChunkedCounter();
      else request.length = Number(headers["content-length"] ?? 0);
      chunk = this.#buffered.subarray(end + HEAD_END.length);
      this.#buffered = Buffer.alloc(0);
    }
    if (chunk.length > 0 && request.firstByteAt === null) request.firstByteAt = performance.now();
    const keep = request.parts === null ? undefined : (content) => request.parts.push(content);
    if (request.chunked) {
      request.bytes += request.chunked.count(chunk, keep);
      if (request.chunked.done) this.#finish();
    } else {
      if (chunk.length > 0) keep?.(chunk);
      request.bytes += chunk.length;
      if (request.bytes >= request.length) this.#finish();
    }
  }

  #finish() {
    const request = this.#pending;
    this.#pending = null;
    const body = request.parts === null ? null : Buffer.concat(request.parts);
    request.resolve({ status: request.head.status, headers: request.head.headers, bytes: request.bytes, firstByteAt: request.firstByteAt, body });
  }

  #fail(error) {
    const request = this.#pending;
    this.#pending = null;
    request?.reject(error);
  }
}
