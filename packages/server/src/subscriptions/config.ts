import { CONTROL_PREFIX } from "@rill/protocol";
import { createHash } from "node:crypto";
import { ProtocolError } from "../domain/errors.js";
import { hasPartialWildcard } from "../domain/glob.js";
import {
  DEFAULT_LEASE_TTL_MS,
  MAX_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  type SubscriptionConfig,
  type SubscriptionType,
} from "./model.js";

/** Validation of subscription request bodies; every failure is a 400 INVALID_REQUEST. */

export function invalid(message: string): ProtocolError {
  return new ProtocolError("INVALID_REQUEST", message);
}

const MAX_PATH_LENGTH = 1024;
const MAX_DESCRIPTION_LENGTH = 4096;

/**
 * Normalizes a stream path as subscriptions name it: relative to the stream
 * namespace, without leading or trailing slashes. Returns null when it is
 * not a usable stream path (empty, `.`/`..` or empty segments, or inside the
 * reserved control namespace).
 */
export function normalizeStreamPath(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const path = value.replace(/^\/+/, "").replace(/\/+$/, "");
  if (path === "" || path.length > MAX_PATH_LENGTH) return null;
  const segments = path.split("/");
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) return null;
  if (segments[0] === CONTROL_PREFIX) return null;
  return path;
}

function requirePath(value: unknown, field: string): string {
  const path = normalizeStreamPath(value);
  if (path === null) throw invalid(`${field} must be a stream path relative to the stream root, got ${JSON.stringify(value)}`);
  return path;
}

/** Parses and validates a list of stream paths (`{"streams": [...]}` bodies and the create body). */
export function parseStreamList(value: unknown, field = "streams"): string[] {
  if (!Array.isArray(value)) throw invalid(`${field} must be an array of stream paths`);
  const paths = value.map((item, index) => requirePath(item, `${field}[${index}]`));
  return [...new Set(paths)].sort();
}

function parsePattern(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const pattern = normalizeStreamPath(value);
  if (pattern === null) throw invalid(`pattern must be a glob over stream paths, got ${JSON.stringify(value)}`);
  if (hasPartialWildcard(pattern)) {
    throw invalid("pattern wildcards must be whole segments: `*` for one segment, `**` for any number");
  }
  return pattern;
}

function parseLeaseTtl(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_LEASE_TTL_MS;
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_LEASE_TTL_MS || value > MAX_LEASE_TTL_MS) {
    throw invalid(`lease_ttl_ms must be a whole number from ${MIN_LEASE_TTL_MS} to ${MAX_LEASE_TTL_MS}`);
  }
  return value;
}

function parseType(value: unknown): SubscriptionType {
  if (value === "webhook" || value === "pull-wake") return value;
  throw invalid('type must be "webhook" or "pull-wake"');
}

/** Turns a PUT body into a normalized configuration (the webhook URL's safety is checked separately). */
export function parseSubscriptionConfig(body: unknown): SubscriptionConfig {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("the body must be a JSON object");
  const input = body as Record<string, unknown>;
  const type = parseType(input.type);
  const pattern = parsePattern(input.pattern);
  const streams = input.streams === undefined || input.streams === null ? [] : parseStreamList(input.streams);
  if (pattern === null && streams.length === 0) throw invalid("a subscription needs a pattern, streams, or both");

  let webhookUrl: string | null = null;
  if (type === "webhook") {
    const webhook = input.webhook;
    const url = typeof webhook === "object" && webhook !== null ? (webhook as Record<string, unknown>).url : undefined;
    if (typeof url !== "string" || url === "") throw invalid("a webhook subscription needs webhook.url");
    webhookUrl = url;
  } else if (input.webhook !== undefined && input.webhook !== null) {
    throw invalid("webhook is only valid for webhook subscriptions");
  }

  let wakeStream: string | null = null;
  if (type === "pull-wake") {
    wakeStream = requirePath(input.wake_stream, "wake_stream");
  } else if (input.wake_stream !== undefined && input.wake_stream !== null) {
    throw invalid("wake_stream is only valid for pull-wake subscriptions");
  }

  const description = input.description;
  if (description !== undefined && description !== null) {
    if (typeof description !== "string" || description.length > MAX_DESCRIPTION_LENGTH) {
      throw invalid(`description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
    }
  }

  return {
    type,
    pattern,
    streams,
    webhookUrl,
    wakeStream,
    leaseTtlMs: parseLeaseTtl(input.lease_ttl_ms),
    description: typeof description === "string" ? description : null,
  };
}

/** Hash of the normalized configuration: equal hashes mean an idempotent re-creation. */
export function configHash(config: SubscriptionConfig): string {
  const canonical = [
    config.type,
    config.pattern,
    config.streams,
    config.webhookUrl,
    config.wakeStream,
    config.leaseTtlMs,
    config.description,
  ];
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/** Subscription ids are one URL path segment (decoded), printable and bounded. */
export function parseSubscriptionId(segment: string): string {
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    throw invalid("the subscription id is not valid percent-encoding");
  }
  if (id === "" || id.length > 256 || id.includes("/") || /[\u0000-\u001f\u007f]/.test(id)) {
    throw invalid("a subscription id is 1 to 256 printable characters without '/'");
  }
  return id;
}
