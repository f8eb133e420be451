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
  const parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (overflow) continue;
    size += chunk.length;
    if (size > limit) {
      overflow = true;
      parts.length = 0;
      continue;
    }
    parts.push(chunk);
  }
  if (overflow) throw tooLarge(limit);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
}

function tooLarge(limit: number): ProtocolError {
  return new ProtocolError(413, "PAYLOAD_TOO_LARGE", `request body exceeds the limit of ${limit} bytes`);
}
