import { createPublicKey, verify, type JsonWebKey } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Test helpers for subscriptions: a webhook receiver that checks every signature, and small HTTP shortcuts. */

export interface Delivery {
  body: {
    subscription_id: string;
    wake_id: string;
    generation: number;
    callback_url: string;
    callback_token: string;
    streams: Array<{ path: string; link_type: string; acked_offset: string; tail_offset: string; has_pending: boolean }>;
  };
  rawBody: string;
  signature: string | null;
  /** Key id named in the signature header. */
  kid: string | null;
  /** The signature checked out against the server's JWKS (fetched when the request arrived). */
  verified: boolean;
  at: number;
}

export type Answer = { status: number; body?: unknown };

interface Jwks {
  keys: Array<JsonWebKey & { kid: string }>;
}

/** Verifies a `Webhook-Signature` header the way a consumer would: key by kid from the JWKS, Ed25519 over "t.body". */
export function verifySignature(rawBody: string, header: string | null, jwks: Jwks, nowMs = Date.now()): boolean {
  const match = /^t=(\d+),kid=([^,]+),ed25519=([A-Za-z0-9_-]+)$/.exec(header ?? "");
  if (!match) return false;
  const [, t, kid, signature] = match;
  if (Math.abs(Math.floor(nowMs / 1000) - Number(t)) > 300) return false;
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk, format: "jwk" });
  return verify(null, Buffer.from(`${t}.${rawBody}`), key, Buffer.from(signature!, "base64url"));
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Resolves with delivery number `index` (0-based) once it has arrived. */
  delivery(index: number, timeoutMs?: number): Promise<Delivery>;
  close(): Promise<void>;
}

export async function startReceiver(
  /** Where the server's JWKS is; a function when that server may change during the test. */
  jwksUrl: string | (() => string),
  answer: (delivery: Delivery, index: number) => Answer | Promise<Answer>,
): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString("utf8");
        const signature = typeof req.headers["webhook-signature"] === "string" ? req.headers["webhook-signature"] : null;
        const jwks = (await (await fetch(typeof jwksUrl === "string" ? jwksUrl : jwksUrl())).json()) as Jwks;
        const delivery: Delivery = {
          body: JSON.parse(rawBody) as Delivery["body"],
          rawBody,
          signature,
          kid: /kid=([^,]+)/.exec(signature ?? "")?.[1] ?? null,
          verified: verifySignature(rawBody, signature, jwks),
          at: Date.now(),
        };
        const index = deliveries.length;
        deliveries.push(delivery);
        for (const wake of waiters.splice(0)) wake();
        const reply = await answer(delivery, index);
        res.writeHead(reply.status, { "content-type": "application/json" });
        res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    async delivery(index, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (deliveries.length <= index) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`webhook delivery #${index} did not arrive within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return deliveries[index]!;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(25);
  }
}

/** JSON request helper: returns status and parsed body (null when empty). */
export async function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text), headers: res.headers };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
