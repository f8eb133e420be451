import type { IncomingMessage } from "node:http";
import { ProtocolError } from "../domain/errors.js";

/**
 * Reads a request body, chunked or not, up to `limit` bytes. Past the limit
 * the rest is drained (so the client can read our 413 instead of seeing a
 * reset mid-upload) and a 413 is thrown.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  // A declared empty body is empty: some HTTP/2 clients (undici) send
  // content-length: 0 without ever ending the request stream.
  if (req.headers["content-length"] === "0") return new Uint8Array(0);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    await new Promise<void>((resolve) => req.once("end", resolve).once("error", () => resolve()).once("close", resolve));
    throw tooLarge(limit);
  }
  // Events rather than `for await`: an append's body is one small chunk, and
  // the async iterator costs more than reading it.
  return new Promise<Uint8Array>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      if (overflow) return;
      size += chunk.length;
      if (size > limit) {
        overflow = true;
        parts.length = 0;
        return;
      }
      parts.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (overflow) reject(tooLarge(limit));
      else resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    // Closed before its end: the client went away mid-body (or the body watchdog gave up on it).
    const onClose = () => {
      cleanup();
      reject(Object.assign(new Error("the request was aborted before its body ended"), { code: "ECONNRESET" }));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(limit: number): ProtocolError {
  return new ProtocolError("PAYLOAD_TOO_LARGE", `request body exceeds the limit of ${limit} bytes`);
}
