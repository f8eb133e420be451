import { OFFSET_BEGINNING } from "@rill/protocol";
import type { StreamChange } from "../engine/engine.js";
import { ProtocolError } from "../domain/errors.js";
import { isExpired } from "../domain/model.js";
import { configHash, invalid } from "./config.js";
import { hasPending, linkType, startOffset } from "./cursors.js";
import { globMatches, literalPrefix, parseGlob } from "../domain/glob.js";
import type { LinkRecord, SubscriptionConfig } from "./model.js";
import type { Entry, SubscriptionRuntime } from "./runtime.js";
import { checkWebhookUrl } from "./url-guard.js";

/**
 * Subscription lifecycle and membership: create or confirm, delete, explicit
 * streams, glob linking (at creation, as streams appear, and at start-up),
 * and reacting to stream writes and deletes.
 */

const LIST_PAGE = 500;

function subscriptionNotFound(id: string): ProtocolError {
  return new ProtocolError("SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`);
}

export function requireEntry(rt: SubscriptionRuntime, id: string): Entry {
  const entry = rt.entries.get(id);
  if (!entry) throw subscriptionNotFound(id);
  return entry;
}

/** Whether the subscription's pattern takes in this path (never its own wake stream). */
function globTakes(entry: Entry, path: string): boolean {
  return entry.matcher !== null && path !== entry.record.config.wakeStream && globMatches(entry.matcher, path);
}

function newLink(entry: Entry, path: string, explicit: boolean, ackedOffset: string): LinkRecord {
  return { subscriptionId: entry.record.id, path, explicit, glob: globTakes(entry, path), ackedOffset };
}

export async function createOrConfirm(
  rt: SubscriptionRuntime,
  id: string,
  config: SubscriptionConfig,
  baseUrl: string,
): Promise<{ entry: Entry; created: boolean }> {
  if (config.webhookUrl !== null) checkWebhookUrl(config.webhookUrl, rt.options.policy);
  if (config.wakeStream !== null && config.streams.includes(config.wakeStream)) {
    throw invalid("the wake stream cannot also be one of the subscription's streams");
  }
  const hash = configHash(config);
  return rt.exclusive(id, async () => {
    const existing = rt.entries.get(id);
    if (existing) {
      if (existing.record.configHash !== hash) {
        throw new ProtocolError("SUBSCRIPTION_ALREADY_EXISTS", `subscription ${JSON.stringify(id)} exists with a different configuration`);
      }
      return { entry: existing, created: false };
    }
    const entry: Entry = {
      record: { id, config, configHash: hash, baseUrl, createdAt: rt.now(), status: "active", generation: 0, wake: null },
      links: new Map(),
      matcher: config.pattern === null ? null : parseGlob(config.pattern),
      timer: null,
      delivering: null,
    };
    // Registered before existing streams are listed: a stream created meanwhile is
    // either in the listing or seen by the observer once this section ends.
    rt.register(entry);
    try {
      for (const path of config.streams) rt.setLink(entry, newLink(entry, path, true, startOffset(await rt.tailOf(path))));
      // Existing streams join at their current tails: only what is written from now on is work.
      await linkMatchingStreams(rt, entry, (tail) => startOffset(tail));
      await rt.commit(entry, [...entry.links.values()]);
    } catch (error) {
      rt.unregister(entry);
      throw error;
    }
    return { entry, created: true };
  });
}

/** Links every existing stream the pattern takes in and that is not linked yet; returns new or changed links. */
async function linkMatchingStreams(rt: SubscriptionRuntime, entry: Entry, offsetFor: (tail: number) => string): Promise<LinkRecord[]> {
  if (entry.matcher === null) return [];
  const changed: LinkRecord[] = [];
  const prefix = literalPrefix(entry.matcher);
  let after: string | null = null;
  for (;;) {
    const page = await rt.options.engine.store.list(prefix, after, LIST_PAGE);
    for (const stream of page) {
      if (!globTakes(entry, stream.path) || stream.softDeleted || isExpired(stream, rt.now())) continue;
      const link = entry.links.get(stream.path);
      if (link?.glob) continue;
      if (link) link.glob = true;
      else rt.setLink(entry, newLink(entry, stream.path, false, offsetFor(stream.tail)));
      changed.push(entry.links.get(stream.path)!);
    }
    if (page.length < LIST_PAGE) return changed;
    after = page[page.length - 1]!.path;
  }
}

export async function deleteSubscription(rt: SubscriptionRuntime, id: string): Promise<void> {
  await rt.exclusive(id, async () => {
    const entry = requireEntry(rt, id);
    await rt.options.store.commit({ remove: [id] });
    rt.unregister(entry);
  });
}

export async function addStreams(rt: SubscriptionRuntime, id: string, paths: string[]): Promise<void> {
  await rt.exclusive(id, async () => {
    const entry = requireEntry(rt, id);
    if (paths.includes(entry.record.config.wakeStream ?? "")) {
      throw invalid("the wake stream cannot also be one of the subscription's streams");
    }
    const changed: LinkRecord[] = [];
    for (const path of paths) {
      const link = entry.links.get(path);
      if (link?.explicit) continue;
      if (link) link.explicit = true;
      else rt.setLink(entry, newLink(entry, path, true, startOffset(await rt.tailOf(path))));
      changed.push(entry.links.get(path)!);
    }
    if (changed.length > 0) await rt.commit(entry, changed);
  });
}

/** Ends explicit membership; a stream the pattern still takes in stays linked (as a glob link). */
export async function removeStream(rt: SubscriptionRuntime, id: string, path: string): Promise<void> {
  await rt.exclusive(id, async () => {
    const entry = requireEntry(rt, id);
    const link = entry.links.get(path);
    if (!link?.explicit) return;
    if (link.glob) {
      link.explicit = false;
      await rt.commit(entry, [link]);
    } else {
      rt.dropLink(entry, path);
      await rt.commit(entry, [], [path]);
    }
  });
}

/** The subscription as GET, PUT and the docs show it. */
export function describe(rt: SubscriptionRuntime, entry: Entry, baseUrl: string): Record<string, unknown> {
  const { record } = entry;
  const { config } = record;
  const streams = [...entry.links.values()]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((link) => ({ path: link.path, link_type: linkType(link), acked_offset: link.ackedOffset }));
  return {
    id: record.id,
    type: config.type,
    pattern: config.pattern ?? undefined,
    streams,
    webhook:
      config.webhookUrl === null
        ? undefined
        : {
            url: config.webhookUrl,
            signing: { alg: "ed25519", kid: rt.options.signer.kid, jwks_url: `${baseUrl}/__ds/jwks.json` },
          },
    wake_stream: config.wakeStream ?? undefined,
    lease_ttl_ms: config.leaseTtlMs,
    description: config.description ?? undefined,
    created_at: new Date(record.createdAt).toISOString(),
    status: record.status,
  };
}

/** The engine observer: links new matching streams, raises wakes for new work, forgets deleted streams. */
export async function onStreamChange(rt: SubscriptionRuntime, change: StreamChange): Promise<void> {
  if (rt.closing || rt.entries.size === 0) return;
  if (change.type === "trimmed") return; // retention and compaction write nothing new
  if (change.type === "deleted") {
    for (const id of [...rt.linkedTo(change.path)]) await onStreamDeleted(rt, id, change.path);
    return;
  }
  const { path, tail } = change.stream;
  const ids = new Set(rt.linkedTo(path));
  for (const entry of rt.entries.values()) if (globTakes(entry, path)) ids.add(entry.record.id);
  for (const id of ids) await onStreamWritten(rt, id, path, tail, change.type === "created");
}

async function onStreamWritten(rt: SubscriptionRuntime, id: string, path: string, tail: number, created: boolean): Promise<void> {
  await rt.exclusive(id, async (effects) => {
    const entry = rt.entries.get(id);
    if (!entry) return;
    const changed: LinkRecord[] = [];
    let link = entry.links.get(path);
    if (!link) {
      if (!globTakes(entry, path)) return;
      // A stream that appears after the subscription is work from its very beginning.
      link = newLink(entry, path, false, OFFSET_BEGINNING);
      rt.setLink(entry, link);
      changed.push(link);
    } else {
      const joinsGlob = !link.glob && globTakes(entry, path);
      // A stream created where a linked one was (it expired meanwhile) is new work from its beginning.
      const restarts = created && link.ackedOffset !== OFFSET_BEGINNING;
      if (joinsGlob) link.glob = true;
      if (restarts) link.ackedOffset = OFFSET_BEGINNING;
      if (joinsGlob || restarts) changed.push(link);
    }
    const raised = hasPending(link, tail) && (await rt.raiseWake(entry, effects));
    if (changed.length === 0 && !raised) return;
    await rt.commit(entry, changed);
    rt.arm(entry);
  });
}

async function onStreamDeleted(rt: SubscriptionRuntime, id: string, path: string): Promise<void> {
  await rt.exclusive(id, async () => {
    const entry = rt.entries.get(id);
    const link = entry?.links.get(path);
    if (!entry || !link) return;
    if (link.explicit) {
      // Explicit membership is configuration: it stays, and a stream re-created there starts over.
      link.glob = false;
      link.ackedOffset = OFFSET_BEGINNING;
      await rt.commit(entry, [link]);
    } else {
      rt.dropLink(entry, path);
      await rt.commit(entry, [], [path]);
    }
  });
}

/**
 * Start-up: links matching streams that appeared while the server was not
 * watching (a crash between a stream commit and the subscription commit),
 * raises wakes for pending work, and re-arms lease and retry timers.
 */
export async function reconcile(rt: SubscriptionRuntime, entry: Entry): Promise<void> {
  await rt.exclusive(entry.record.id, async (effects) => {
    // Deleted meanwhile (here or, with a shared store, by another server): nothing to reconcile.
    if (rt.entries.get(entry.record.id) !== entry) return;
    const changed = await linkMatchingStreams(rt, entry, () => OFFSET_BEGINNING);
    const raised = await rt.raiseWake(entry, effects);
    if (changed.length > 0 || raised) await rt.commit(entry, changed);
    rt.arm(entry);
  });
}
