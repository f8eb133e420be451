import { ProtocolError } from "../domain/errors.js";
import { requireEntry } from "./admin.js";
import { invalid } from "./config.js";
import { parseAcks, planAcks, wakeStreamInfos, type AckRequest } from "./cursors.js";
import type { SubscriptionType, WakeState } from "./model.js";
import type { Entry, SubscriptionRuntime } from "./runtime.js";

/**
 * The consumer side of a wake: webhook callbacks, and pull-wake claim, ack
 * and release. Tokens name a subscription, a generation and a wake id; a
 * token (or body) for any other wake than the outstanding one is FENCED.
 */

export interface WakeRequest {
  wakeId: string | null;
  generation: number | null;
  acks: AckRequest[];
  done: boolean;
}

/** Parses a callback, ack or release body. `wake_id` and `generation` are checked when given. */
export function parseWakeRequest(body: unknown): WakeRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("the body must be a JSON object");
  const input = body as Record<string, unknown>;
  if (input.wake_id !== undefined && typeof input.wake_id !== "string") throw invalid("wake_id must be a string");
  if (input.generation !== undefined && !Number.isSafeInteger(input.generation)) throw invalid("generation must be an integer");
  if (input.done !== undefined && typeof input.done !== "boolean") throw invalid("done must be true or false");
  return {
    wakeId: (input.wake_id as string | undefined) ?? null,
    generation: (input.generation as number | undefined) ?? null,
    acks: parseAcks(input.acks),
    done: input.done === true,
  };
}

function requireType(entry: Entry, type: SubscriptionType, action: string): void {
  if (entry.record.config.type !== type) {
    throw invalid(`${action} is for ${type} subscriptions; ${entry.record.id} is a ${entry.record.config.type} subscription`);
  }
}

function fenced(message: string, generation: number): ProtocolError {
  return new ProtocolError("FENCED", message, {}, { generation });
}

/** Checks the bearer token and the request against the outstanding wake; returns that wake. */
function authorize(rt: SubscriptionRuntime, entry: Entry, token: string | null, request: WakeRequest): WakeState {
  const claims = token === null ? null : rt.options.signer.verifyToken(token);
  if (claims === null || claims.subscriptionId !== entry.record.id) {
    throw new ProtocolError("TOKEN_INVALID", "send the wake's token as Authorization: Bearer <token>", {
      challenge: 'Bearer realm="subscriptions"',
    });
  }
  const { record } = entry;
  const wake = record.wake;
  if (wake === null || claims.wakeId !== wake.id || claims.generation !== record.generation) {
    throw fenced("this wake is over: a newer generation superseded it or it was completed", record.generation);
  }
  if ((request.wakeId !== null && request.wakeId !== wake.id) || (request.generation !== null && request.generation !== record.generation)) {
    throw fenced("wake_id and generation do not name the outstanding wake", record.generation);
  }
  if (wake.leaseExpiresAt !== null && wake.leaseExpiresAt <= rt.now()) {
    throw fenced("the lease on this wake has expired", record.generation);
  }
  return wake;
}

/**
 * Webhook callback or pull-wake ack: moves cursors, then either ends the
 * wake (`done`, raising the next one if work is pending) or renews the lease
 * (a heartbeat).
 */
export async function acknowledge(
  rt: SubscriptionRuntime,
  id: string,
  type: SubscriptionType,
  token: string | null,
  request: WakeRequest,
): Promise<{ ok: true; next_wake: boolean }> {
  return rt.exclusive(id, async (effects) => {
    const entry = requireEntry(rt, id);
    requireType(entry, type, type === "webhook" ? "callback" : "ack");
    const wake = authorize(rt, entry, token, request);
    const tails = await rt.tails(request.acks.map((ack) => ack.path));
    const moves = planAcks(request.acks, entry.links, tails, wake.streams);
    const changed = [...moves].map(([path, offset]) => {
      const link = entry.links.get(path)!;
      link.ackedOffset = offset;
      return link;
    });
    let nextWake = false;
    if (request.done) {
      rt.endWake(entry);
      nextWake = await rt.raiseWake(entry, effects);
    } else {
      if (!wake.delivered) {
        // A callback proves the consumer has the wake, whatever became of the POST's answer.
        wake.delivered = true;
        wake.attempts = 0;
        wake.nextAttemptAt = null;
      }
      rt.extendLease(entry, wake);
    }
    entry.record.status = "active";
    await rt.commit(entry, changed);
    rt.arm(entry);
    return { ok: true, next_wake: nextWake };
  });
}

export interface Claim {
  wake_id: string;
  generation: number;
  token: string;
  streams: ReturnType<typeof wakeStreamInfos>;
  lease_ttl_ms: number;
}

/** Pull-wake: a worker takes the outstanding wake (or the pending work) under a lease. */
export async function claim(rt: SubscriptionRuntime, id: string, worker: string): Promise<Claim> {
  return rt.exclusive(id, async () => {
    const entry = requireEntry(rt, id);
    requireType(entry, "pull-wake", "claim");
    const { record } = entry;
    let changed = false;
    if (record.wake?.holder != null) {
      if (record.wake.leaseExpiresAt !== null && record.wake.leaseExpiresAt > rt.now()) {
        throw new ProtocolError("ALREADY_CLAIMED", `worker ${JSON.stringify(record.wake.holder)} holds this subscription's wake`, {}, {
          current_holder: record.wake.holder,
          generation: record.generation,
        });
      }
      rt.endWake(entry); // the holder's lease ran out; its timer has not fired yet
      changed = true;
    }
    const pending = await rt.pending(entry);
    if (pending.length === 0) {
      if (record.wake !== null) {
        rt.endWake(entry);
        changed = true;
      }
      if (changed) await rt.commit(entry);
      throw new ProtocolError("NO_PENDING_WORK", "no stream of this subscription has unacknowledged data");
    }
    const wake = record.wake ?? rt.openWake(entry, pending);
    wake.streams = pending;
    wake.holder = worker;
    rt.extendLease(entry, wake);
    await rt.commit(entry);
    rt.arm(entry);
    return {
      wake_id: wake.id,
      generation: record.generation,
      token: rt.token(entry),
      streams: wakeStreamInfos(pending, entry.links),
      lease_ttl_ms: record.config.leaseTtlMs,
    };
  });
}

/** Pull-wake: the worker gives the wake back; pending work is offered again as a new wake. */
export async function release(rt: SubscriptionRuntime, id: string, token: string | null, request: WakeRequest): Promise<void> {
  await rt.exclusive(id, async (effects) => {
    const entry = requireEntry(rt, id);
    requireType(entry, "pull-wake", "release");
    authorize(rt, entry, token, request);
    rt.endWake(entry);
    await rt.raiseWake(entry, effects);
    await rt.commit(entry);
    rt.arm(entry);
  });
}
