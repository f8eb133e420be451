import type { Entry } from "./sqlite-cache.js";

/** A round's streams as they were before it: path → entry (null: the stream did not exist). */
type Before = Map<string, Entry | null>;

/**
 * What reads of the SQLite store see while committed rounds await their log
 * sync. A round collects the entries its streams had before it (`remember`,
 * once per stream); once committed it is `pending` until `synced`. Reads ask
 * `hiddenEntry` first: the oldest unsynced round holding a stream decides
 * what it looks like (a later round's "before" is an earlier round's
 * "after"), so nothing shows before it is durable. The sync promises are
 * chained: a round counts as durable only once every earlier one is, since
 * its streams build on theirs.
 */
export class UnsyncedRounds {
  /** Rounds committed and not yet synced, oldest first. */
  private rounds: Before[] = [];
  /** The round being applied: its streams' entries from before it. */
  private collecting: Before = new Map();
  /** Settles once every round committed so far is on disk; rejects if a sync failed. */
  private durable: Promise<unknown> = Promise.resolve();

  /** A new round starts being applied. */
  begin(): void {
    this.collecting = new Map();
  }

  /** Keeps a stream's entry from before the current round (null: absent); the first call per stream counts. */
  remember(path: string, before: Entry | null): void {
    if (!this.collecting.has(path)) this.collecting.set(path, before);
  }

  /** The stream's entry as reads must see it (null: absent then); undefined: no unsynced round changed it. */
  hiddenEntry(path: string): Entry | null | undefined {
    for (const round of this.rounds) if (round.has(path)) return round.get(path);
    return undefined;
  }

  /**
   * The current round has committed and `sync` will make it durable: its
   * streams stay hidden until it and every earlier round are synced. The
   * answer settles then (or rejects with the first failed sync, after which
   * nothing is hidden any more: the store refuses everything from then on).
   */
  pending(sync: Promise<void>): Promise<void> {
    const round = this.collecting;
    this.rounds.push(round);
    const durable = Promise.all([this.durable, sync]);
    this.durable = durable;
    return durable.then(
      () => {
        const at = this.rounds.indexOf(round);
        if (at >= 0) this.rounds.splice(at, 1);
      },
      (error: unknown) => {
        this.rounds = [];
        throw error;
      },
    );
  }

  /** Everything committed so far is on disk (synced on the loop): nothing needs hiding any more. */
  allSynced(): void {
    this.rounds = [];
  }
}
