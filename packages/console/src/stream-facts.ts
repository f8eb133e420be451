/**
 * A stream's facts, from HEAD and Rill's listing extension: content type,
 * size, message count when the view has read from the start, created,
 * TTL or expiry, closed, what it was forked from and its forks.
 */
import { formatBytes, type ListedStream, type ListedStreamPage } from "@rill/protocol";
import { el, relativeTime } from "./render.js";

export interface Facts {
  contentType: string;
  tailOffset: string;
  closed: boolean;
  ttlSeconds?: number;
  expiresAt?: string;
  listed?: ListedStream;
  forks: string[];
}

/** The listing entry of `name` and the names of streams forked from it (none when the server has no listing). */
export async function listingFacts(
  fetcher: typeof fetch,
  streamsPath: string,
  name: string,
  signal: AbortSignal,
): Promise<{ listed?: ListedStream; forks: string[] }> {
  const url = new URL(`${streamsPath}/__ds/streams`, location.origin);
  url.searchParams.set("limit", "1000");
  try {
    const response = await fetcher(url, { cache: "no-store", signal });
    if (!response.ok) return { forks: [] };
    const page = (await response.json()) as ListedStreamPage;
    return {
      listed: page.streams.find((stream) => stream.path === name),
      forks: page.streams.filter((stream) => stream.forkedFrom === name).map((stream) => stream.path),
    };
  } catch {
    return { forks: [] };
  }
}

export function renderFacts(facts: Facts, messageCount: string, streamHref: (name: string) => string): HTMLElement {
  const rows: Array<[string, Node | string]> = [
    ["type", facts.contentType],
    ["size", facts.listed ? formatBytes(facts.listed.bytes) : "—"],
    ["messages", messageCount],
    ["created", facts.listed ? new Date(facts.listed.createdAt).toLocaleString() : "—"],
    ["closed", facts.closed ? "yes" : "no"],
    ["expiry", expiry(facts)],
    ["tail", el("code", {}, facts.tailOffset)],
  ];
  if (facts.listed?.forkedFrom) rows.push(["forked from", el("a", { href: streamHref(facts.listed.forkedFrom) }, facts.listed.forkedFrom)]);
  if (facts.forks.length > 0) {
    const links = el("span", {});
    facts.forks.forEach((fork, index) => {
      if (index > 0) links.append(", ");
      links.append(el("a", { href: streamHref(fork) }, fork));
    });
    rows.push(["forks", links]);
  }
  return el(
    "dl",
    { class: "facts", "data-testid": "facts" },
    // The first six facts sit two to a line; the long ones after them get a line each.
    ...rows.flatMap(([term, value], index) => [el("dt", {}, term), el("dd", { "data-fact": term, class: index >= 6 ? "wide" : undefined }, value)]),
  );
}

function expiry(facts: Facts): string {
  if (facts.expiresAt) return `${relativeTime(facts.expiresAt)} (${facts.expiresAt})`;
  if (facts.ttlSeconds !== undefined) return `TTL ${facts.ttlSeconds}s after the last read or write`;
  return "never";
}
