import { lookup as dnsLookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { ProtocolError } from "../domain/errors.js";

/**
 * Webhook URLs are fetched by the server, so a subscription must not be able
 * to point the server at itself or at the private network (SSRF). The rules:
 *
 * - https to a public address is allowed;
 * - plain http is allowed only to this machine (`localhost`, 127.0.0.0/8,
 *   `[::1]`), the development exception, which can be turned off;
 * - private, shared, link-local (cloud metadata), loopback, multicast and
 *   reserved addresses are refused for https, as are `localhost` names and
 *   known metadata host names.
 *
 * The URL is checked when the subscription is created, and at every delivery
 * the host name is resolved again and every resolved address re-checked; the
 * connection then goes to the address that passed, so DNS cannot change
 * between the check and the connect.
 */

export interface WebhookUrlPolicy {
  /** Allow plain-http webhooks to this machine (development). */
  allowLocalhostHttp: boolean;
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

const forbidden = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT (also some metadata services)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved and broadcast
] as const) {
  forbidden.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["64:ff9b::", 96], // NAT64 (reaches IPv4 space indirectly)
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local (includes fd00:ec2::254, a metadata address)
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  forbidden.addSubnet(network, prefix, "ipv6");
}

const METADATA_HOSTS = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data"]);

function rejected(message: string): ProtocolError {
  return new ProtocolError("WEBHOOK_URL_REJECTED", message);
}

/** The embedded IPv4 address of an IPv4-mapped IPv6 address (::ffff:a.b.c.d), if any. */
function mappedIpv4(address: string): string | null {
  const match = /^::ffff:(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (match) return match[1]!;
  const hex = /^::ffff:(?:0:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** True when the address is not a public unicast address a webhook may reach. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return forbidden.check(address, "ipv4");
  if (family === 6) {
    const v4 = mappedIpv4(address);
    if (v4 !== null) return forbidden.check(v4, "ipv4");
    return forbidden.check(address, "ipv6");
  }
  return true;
}

export function isLoopbackAddress(address: string): boolean {
  const v4 = isIP(address) === 6 ? mappedIpv4(address) : address;
  if (v4 !== null && isIP(v4) === 4) return v4.split(".")[0] === "127";
  return address === "::1" || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(address);
}

/** URL host without IPv6 brackets, lower-cased, without a trailing dot. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "").toLowerCase().replace(/\.$/, "");
}

function isLocalhostName(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost");
}

/** Checks a webhook URL when a subscription is created; throws 400 WEBHOOK_URL_REJECTED. */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw rejected("webhook.url is not a valid absolute URL");
  }
  if (url.username !== "" || url.password !== "") throw rejected("webhook.url must not contain credentials");
  const host = bareHost(url);
  if (url.protocol === "http:") {
    const local = isLocalhostName(host) || (isIP(host) !== 0 && isLoopbackAddress(host));
    if (!local) throw rejected("webhook.url must use https (plain http is accepted only for localhost)");
    if (!policy.allowLocalhostHttp) throw rejected("plain-http localhost webhooks are disabled on this server");
    return url;
  }
  if (url.protocol !== "https:") throw rejected("webhook.url must use https");
  if (isLocalhostName(host)) throw rejected("webhook.url must not target localhost over https");
  if (METADATA_HOSTS.has(host)) throw rejected("webhook.url must not target a metadata service");
  if (isIP(host) !== 0 && isForbiddenAddress(host)) {
    throw rejected("webhook.url must not target a private, loopback, link-local or reserved address");
  }
  return url;
}

/**
 * Resolves the URL's host for a delivery and returns the addresses it may
 * connect to; throws when any resolved address is not allowed (a name that
 * resolves to both public and private addresses is refused outright).
 */
export async function resolveWebhookTarget(url: URL, policy: WebhookUrlPolicy, resolver: Resolver): Promise<LookupAddress[]> {
  checkWebhookUrl(url.href, policy);
  const host = bareHost(url);
  const family = isIP(host);
  const addresses = family !== 0 ? [{ address: host, family }] : await resolver(host);
  if (addresses.length === 0) throw new Error(`${host} did not resolve`);
  const local = url.protocol === "http:";
  for (const { address } of addresses) {
    const allowed = local ? isLoopbackAddress(address) : !isForbiddenAddress(address);
    if (!allowed) throw new Error(`${host} resolves to ${address}, which webhooks may not reach`);
  }
  return addresses;
}
