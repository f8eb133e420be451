import type { LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { resolveWebhookTarget, type Resolver, type WebhookUrlPolicy } from "./url-guard.js";

/** One webhook POST: resolution and re-check of the target, the request, and reading the answer. */

export interface WebhookPost {
  url: string;
  body: string;
  signature: string;
  timeoutMs: number;
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
}

export type DeliveryResult =
  | { ok: true; done: boolean }
  | { ok: false; reason: string };

/** Largest response body read to look for `{"done": true}`; the rest is ignored. */
const MAX_RESPONSE_BYTES = 64 * 1024;

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const RETRY_JITTER = 0.2;

/** Delay before retry number `attempt` (1, 2, …): 1 s doubling to 60 s, ±20% jitter. */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1), RETRY_MAX_MS);
  return Math.round(base * (1 + RETRY_JITTER * (random() * 2 - 1)));
}

/** Connects only to the addresses that passed the check, whatever the name resolves to by now. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) {
      callback(null, addresses);
      return;
    }
    const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
    const first = addresses.find((address) => wanted === 0 || address.family === wanted) ?? addresses[0]!;
    callback(null, first.address, first.family);
  };
}

async function readLimited(response: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (size >= MAX_RESPONSE_BYTES) continue;
    parts.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(parts).subarray(0, MAX_RESPONSE_BYTES).toString("utf8");
}

function saysDone(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null && (parsed as { done?: unknown }).done === true;
  } catch {
    return false;
  }
}

export async function postWebhook(post: WebhookPost, policy: WebhookUrlPolicy, resolver: Resolver): Promise<DeliveryResult> {
  const url = new URL(post.url);
  let addresses: LookupAddress[];
  try {
    addresses = await resolveWebhookTarget(url, policy, resolver);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  const signal = AbortSignal.any([post.signal, AbortSignal.timeout(post.timeoutMs)]);
  const options: RequestOptions = {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(post.body),
      "webhook-signature": post.signature,
      "user-agent": "rill-subscriptions",
    },
    lookup: pinnedLookup(addresses),
    agent: false,
    signal,
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  try {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, options, resolve);
      req.once("error", reject);
      req.end(post.body);
    });
    const status = response.statusCode ?? 0;
    const text = await readLimited(response);
    if (status < 200 || status >= 300) return { ok: false, reason: `the webhook answered ${status}` };
    return { ok: true, done: saysDone(text) };
  } catch (error) {
    const reason = signal.aborted && !post.signal.aborted ? `no answer within ${post.timeoutMs} ms` : String(error);
    return { ok: false, reason };
  }
}
