import { parseOffset } from "@rill/protocol";
import { deliveries } from "../metrics/subscription-metrics.js";
import { ackedPosition, wakeStreamInfos } from "./cursors.js";
import { postWebhook, retryDelay } from "./delivery.js";
import type { LinkRecord } from "./model.js";
import type { Entry, SubscriptionRuntime } from "./runtime.js";

/**
 * One delivery attempt of a webhook wake, and what its answer means:
 *
 * - before the POST, the retry that would follow a failure is scheduled and
 *   committed, so a crash mid-attempt is retried after a restart;
 * - a 2xx answer `{"done": true}` acknowledges the wake's snapshot at once
 *   (the consumer finished synchronously) and ends the wake;
 * - any other 2xx starts the consumer's lease: it calls back (heartbeats,
 *   acks, done) or the lease runs out and the work is offered again;
 * - a failure (non-2xx, timeout, refused target) schedules the next attempt
 *   1 s, 2 s, 4 s … up to 60 s later, with 20% jitter.
 */

/** How long past the POST's timeout a server's claim on it lasts, for clock skew between servers. */
const DELIVERY_CLAIM_MARGIN_MS = 2_000;

export function callbackUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/__ds/subscriptions/${encodeURIComponent(id)}/callback`;
}

export async function deliverWake(rt: SubscriptionRuntime, id: string, wakeId: string): Promise<void> {
  const { signer, policy, resolver, webhookTimeoutMs } = rt.options;
  const prepared = await rt.exclusive(id, async () => {
    const entry = rt.entries.get(id);
    const wake = entry?.record.wake;
    if (!entry || !wake || wake.id !== wakeId || wake.delivered || entry.delivering === wakeId || rt.closing) return null;
    if (rt.deliveredElsewhere(wake)) return null;
    const { record } = entry;
    wake.nextAttemptAt = rt.now() + retryDelay(wake.attempts + 1);
    if (rt.serverId !== null) {
      // Other servers leave this POST alone until its timeout has passed (and then assume this server died).
      wake.deliveringBy = rt.serverId;
      wake.deliveringUntil = rt.now() + webhookTimeoutMs + DELIVERY_CLAIM_MARGIN_MS;
    }
    await rt.commit(entry);
    entry.delivering = wakeId;
    rt.disarm(entry);
    const body = JSON.stringify({
      subscription_id: record.id,
      wake_id: wake.id,
      generation: record.generation,
      streams: wakeStreamInfos(wake.streams, entry.links),
      callback_url: callbackUrl(record.baseUrl, record.id),
      callback_token: rt.token(entry),
    });
    return { url: record.config.webhookUrl!, body };
  });
  if (prepared === null) return;

  const result = await postWebhook(
    {
      url: prepared.url,
      body: prepared.body,
      signature: signer.signatureHeader(prepared.body, rt.now()),
      timeoutMs: webhookTimeoutMs,
      signal: rt.shutdown.signal,
    },
    policy,
    resolver,
  );

  await rt.exclusive(id, async (effects) => {
    const entry = rt.entries.get(id);
    if (!entry) return;
    if (entry.delivering === wakeId) entry.delivering = null;
    const wake = entry.record.wake;
    // Stale answers (the wake ended meanwhile) and answers cut off by shutdown change nothing.
    if (!wake || wake.id !== wakeId || rt.closing) return;
    if (rt.serverId !== null && wake.deliveringBy === rt.serverId) {
      wake.deliveringBy = null;
      wake.deliveringUntil = null;
    }
    if (!result.ok) {
      if (wake.delivered) return; // The consumer has called back already: it has the wake.
      wake.attempts += 1;
      wake.nextAttemptAt = rt.now() + retryDelay(wake.attempts);
      entry.record.status = "failed";
      deliveries.at("failed").inc();
      const retryInMs = wake.nextAttemptAt - rt.now();
      rt.options.warn(`subscription ${id}: webhook delivery failed (${result.reason}); attempt ${wake.attempts + 1} in ${retryInMs} ms`, {
        event: "webhook_delivery_failed",
        subscription: id,
        wake_id: wakeId,
        reason: result.reason,
        attempts: wake.attempts,
        retry_in_ms: retryInMs,
      });
      await rt.commit(entry);
      rt.arm(entry);
      return;
    }
    entry.record.status = "active";
    deliveries.at(result.done ? "done" : "leased").inc();
    if (result.done) {
      const acked = acknowledgeSnapshot(entry);
      rt.endWake(entry);
      await rt.raiseWake(entry, effects);
      await rt.commit(entry, acked);
      rt.arm(entry);
      return;
    }
    if (!wake.delivered) {
      wake.delivered = true;
      wake.attempts = 0;
      wake.nextAttemptAt = null;
      rt.extendLease(entry, wake);
    }
    await rt.commit(entry);
    rt.arm(entry);
  });
}

/** Moves each cursor to the tail recorded in the wake (never backwards); returns the changed links. */
function acknowledgeSnapshot(entry: Entry): LinkRecord[] {
  const changed: LinkRecord[] = [];
  for (const { path, tail } of entry.record.wake?.streams ?? []) {
    const link = entry.links.get(path);
    const position = parseOffset(tail);
    if (!link || position === undefined || position <= ackedPosition(link.ackedOffset)) continue;
    link.ackedOffset = tail;
    changed.push(link);
  }
  return changed;
}
