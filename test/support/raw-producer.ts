/**
 * An idempotent producer written with plain fetch, for tests of servers that
 * fail: each message is retried with the same seq until some server
 * acknowledges it — on another server after a connection failure, and after
 * Retry-After on a 503. Every request is bounded in time, so a server that
 * hangs instead of failing is caught.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ProduceStats {
  acks: { producer: string; seq: number }[];
  failures: string[];
  /** Requests that failed to connect and went to another server. */
  retriesElsewhere: number;
  /** Acknowledgements that were duplicates (204): an earlier attempt had been applied. */
  duplicates: number;
  /** 503 answers with Retry-After (the database was unavailable). */
  unavailable: number;
  /** Other 5xx answers (e.g. 502 from a proxy whose upstream died), retried. */
  serverErrors: number;
  /** Requests that got no answer within the bound. */
  hung: number;
}

export function newStats(): ProduceStats {
  return { acks: [], failures: [], retriesElsewhere: 0, duplicates: 0, unavailable: 0, serverErrors: 0, hung: 0 };
}

export interface ProduceOptions {
  id: string;
  count: number;
  /** The stream's URL on a server to try; `avoid` is the one that just failed, if any. */
  pick(avoid?: string): string;
  stats: ProduceStats;
  /** Longest one request may take (default 15 s). */
  requestTimeoutMs?: number;
}

export async function produce({ id, count, pick, stats, requestTimeoutMs = 15_000 }: ProduceOptions): Promise<void> {
  for (let seq = 0; seq < count; seq++) {
    let target = pick();
    for (let attempt = 0; ; attempt++) {
      if (attempt > 300) {
        stats.failures.push(`${id}:${seq} never acknowledged`);
        return;
      }
      let res: Response;
      let text: string;
      try {
        res = await fetch(target, {
          method: "POST",
          headers: { "content-type": "text/plain", "producer-id": id, "producer-epoch": "0", "producer-seq": String(seq) },
          body: `${id}:${seq};`,
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        text = await res.text();
      } catch (error) {
        if (error instanceof DOMException && error.name === "TimeoutError") stats.hung++;
        // Connection refused or reset: the same seq goes to another server.
        target = pick(target);
        stats.retriesElsewhere++;
        await sleep(5);
        continue;
      }
      if (res.status === 200 || res.status === 204) {
        if (res.status === 204) stats.duplicates++;
        stats.acks.push({ producer: id, seq });
        break;
      }
      if (res.status === 503 && res.headers.has("retry-after")) {
        stats.unavailable++;
        await sleep(Math.min(1_000, Number(res.headers.get("retry-after")) * 1000 || 200));
        continue;
      }
      if (res.status >= 500) {
        stats.serverErrors++;
        target = pick(target);
        await sleep(20);
        continue;
      }
      stats.failures.push(`${id}:${seq}: HTTP ${res.status} ${text}`);
      return;
    }
  }
}
