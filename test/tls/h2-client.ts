/** A small HTTP/2 client for the tests (node:http2), so they see frames and settings as they are. */
import type { SecureClientSessionOptions } from "node:http2";
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";

export interface H2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function h2connect(origin: string, ca?: string, options: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(origin, { ...(ca ? { ca } : {}), ...options });
    // Ready once the server's SETTINGS (stream limit, windows) are known.
    session.once("remoteSettings", () => resolve(session));
    session.once("error", reject);
  });
}

/** Sends one request and collects the whole response. */
export function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    collect(stream).then(resolve, reject);
    if (body !== undefined) stream.end(body);
  });
}

export function collect(stream: ClientHttp2Stream): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    let responseHeaders: IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("data", (part: Buffer) => parts.push(part));
    stream.on("end", () =>
      resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, body: Buffer.concat(parts) }),
    );
    stream.on("error", reject);
  });
}

/** Resolves with the response headers of a stream that stays open (SSE). */
export function responseOf(stream: ClientHttp2Stream): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    stream.once("response", resolve);
    stream.once("error", reject);
  });
}
