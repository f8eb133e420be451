import { framedMessagePrefixLength, isJsonContentType } from "@rill/protocol";
import { log } from "../logging/logger.js";
import { streamsCreated, streamsDeleted, streamsExpired } from "../metrics/store-metrics.js";
import { positionInRead } from "../storage/batches.js";
import type { RemoteCommit, Store } from "../storage/store.js";
import type {
  AppendCommand,
  AppendOutcome,
  CreateOutcome,
  DeleteOutcome,
  ForkRequest,
  ResolvedCreateCommand,
  ResolvedFork,
} from "../domain/commands.js";
import { gone, streamNotFound } from "../domain/errors.js";
import { checkForkPoint, checkForkSource, forkSubOffsetPastTail } from "../domain/fork-rules.js";
import { LiveHub } from "./live-hub.js";
import { Maintainer, type MaintenanceOptions } from "./maintenance.js";
import { expiryTime, isExpired, type StreamState } from "../domain/model.js";
import { StreamReads, type ReadResult, type ReadStart } from "./stream-reads.js";
import { StreamObservers, type StreamChange, type StreamObserver } from "./stream-observers.js";

export type { ReadResult, ReadStart } from "./stream-reads.js";
export type { StreamChange, StreamObserver } from "./stream-observers.js";
import { RetentionDefaults } from "../domain/retention-rules.js";

export interface EngineOptions {
  /** Upper bound on the bytes a bounded read (SSE catch-up, long-poll) returns; one whole message may exceed it. */
  maxReadBytes: number;
  /** How often expired streams are swept (ms); 0 turns the sweeper off. */
  sweepIntervalMs: number;
  /** Retention defaults and the background retention/compaction passes (docs/retention.md). */
  maintenance?: Partial<MaintenanceOptions>;
  now?: () => number;
}

/**
 * The stream engine: the protocol's rules over a Store, plus the live hub.
 * It knows nothing about HTTP. Every committed append is published to the hub
 * after the store has made it durable, so live readers see only committed data.
 * Observers of committed changes (subscriptions) run after the write has been
 * acknowledged, in the background (stream-observers.ts).
 */
export class Engine {
  readonly hub = new LiveHub();
  /** Reads of stored data and the offset rule (docs/offsets.md). */
  readonly reads: StreamReads;
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly observers = new StreamObservers();
  /** Per stream, the remote commit being published: they go out in the order they came. */
  private readonly remoteQueue = new Map<string, Promise<void>>();
  private stopWatching: () => void = () => undefined;
  /** Runs retention and compaction in the background. */
  readonly maintainer: Maintainer;
  readonly retentionDefaults: RetentionDefaults;

  constructor(
    readonly store: Store,
    private readonly options: EngineOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.retentionDefaults = new RetentionDefaults(options.maintenance?.retention ?? []);
    this.reads = new StreamReads(store, options.maxReadBytes, this.retentionDefaults);
    if (store.watchRemoteCommits) {
      this.stopWatching = store.watchRemoteCommits(
        (change) => this.remoteCommit(change),
        () => this.hub.watchedPaths(),
      );
    }
    if (options.sweepIntervalMs > 0) {
      this.sweeper = setInterval(() => void this.sweep(), options.sweepIntervalMs);
      this.sweeper.unref();
    }
    this.maintainer = new Maintainer(store, this.retentionDefaults, options.maintenance ?? {}, this.now, (change) =>
      this.notify(change),
    );
  }

  /** Waits for writes in progress and for their observers; used by graceful shutdown. */
  async drain(): Promise<void> {
    // Observers may write (a wake event is an append), and writes notify observers: wait until both are quiet.
    do {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.observers.idle();
    } while (this.inFlight.size > 0);
  }

  /** Registers an observer of committed changes; returns a function that removes it. */
  observe(observer: StreamObserver): () => void {
    return this.observers.add(observer);
  }

  /** Hands a committed change to the observers, in the background: the write's answer does not wait for them. */
  private notify(change: StreamChange): void {
    this.observers.notify(change);
  }

  async close(): Promise<void> {
    this.stopWatching();
    await this.maintainer.stop();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.drain();
    await this.store.close();
  }

  /**
   * Creates a stream whose fork, if any, resolveFork resolved. The store
   * checks the source again inside its transaction (domain/fork-rules.ts).
   */
  async create(command: ResolvedCreateCommand): Promise<CreateOutcome> {
    return this.track(async () => {
      const outcome = await this.store.create(command, this.now());
      if (outcome.created) streamsCreated.inc();
      if (outcome.created) this.notify({ type: "created", stream: outcome.stream, dataBytes: command.data.length });
      return outcome;
    });
  }

  /**
   * Reads a fork's source once and turns the request's offset and sub-offset
   * into a byte position in it, or throws the fork's typed refusal. The source
   * state comes back too: a fork that names no content type is framed by its
   * source's.
   */
  async resolveFork(request: ForkRequest): Promise<{ fork: ResolvedFork; source: StreamState }> {
    const source = checkForkSource(await this.store.getStream(request.source), request.source, this.now());
    const base = request.position ?? source.tail;
    checkForkPoint(source, base);
    const position = request.subOffset === 0 ? base : await this.positionAfter(source, base, request.subOffset);
    const explicit = request.position !== null || request.subOffset > 0;
    return { fork: { source: source.path, position, explicit }, source };
  }

  async append(command: AppendCommand): Promise<AppendOutcome> {
    return this.track(async () => {
      const outcome = await this.store.append(command, this.now());
      if (outcome.kind === "appended") {
        // Live readers come back at this tail: the offset rule then needs no look at the store.
        this.reads.boundaries.note(outcome.stream, outcome.stream.tail);
        this.hub.publish({
          path: command.path,
          start: outcome.start,
          end: outcome.stream.tail,
          data: command.data.length > 0 ? command.data : null,
          closed: outcome.stream.closed,
          gone: false,
        });
        this.notify({ type: "appended", stream: outcome.stream, start: outcome.start });
      }
      return outcome;
    });
  }

  async delete(path: string): Promise<DeleteOutcome> {
    return this.track(async () => {
      await this.live(path);
      const outcome = await this.store.delete(path, this.now());
      streamsDeleted.inc();
      this.reads.boundaries.forget(path);
      this.hub.publish({ path, start: 0, end: 0, data: null, closed: false, gone: true });
      this.notify({ type: "deleted", path });
      return outcome;
    });
  }

  /**
   * The one entry point of a read (GET in every mode): the stream must be
   * readable (`live`), the read restarts a sliding TTL, and the requested
   * start becomes a position by the offset rule (StreamReads.positionOf).
   */
  async openRead(path: string, start: ReadStart): Promise<{ stream: StreamState; position: number }> {
    const stream = await this.live(path);
    await this.touch(stream);
    return { stream, position: await this.reads.positionOf(stream, start) };
  }

  /**
   * The stream's state if it is readable now: 404 when absent or expired
   * (forks reading through it or not: expiry is the protocol's "not found"),
   * 410 when deleted but kept for its forks. It writes nothing: an expired
   * stream is removed by the sweeper, not by the read that noticed it.
   */
  async live(path: string): Promise<StreamState> {
    const stream = await this.store.getStream(path);
    if (!stream || isExpired(stream, this.now())) throw streamNotFound(path);
    if (stream.softDeleted) throw gone(path);
    return stream;
  }

  /** True when anything is stored at `path` (live, expired or kept for forks): a create there adds no stream. */
  async isStored(path: string): Promise<boolean> {
    return (await this.store.getStream(path)) !== undefined;
  }

  /** Streams stored, for the streams-per-server limit. */
  countStreams(): Promise<number> {
    return this.store.countStreams();
  }

  /** Records a read for the sliding TTL (openRead's only write; HEAD does not touch). */
  private async touch(stream: StreamState): Promise<void> {
    if (stream.ttlSeconds !== null) await this.store.touch(stream.path, this.now(), expiryTime(stream));
  }

  /** A bounded read from the boundary `from` (see StreamReads.read). */
  read(stream: StreamState, from: number): Promise<ReadResult> {
    return this.reads.read(stream, from);
  }

  /** The position `subOffset` units past `base`: messages of a JSON source, bytes otherwise. */
  private async positionAfter(source: StreamState, base: number, subOffset: number): Promise<number> {
    const rest = await this.read(source, base);
    let extra: number | undefined;
    if (isJsonContentType(source.contentType)) extra = framedMessagePrefixLength(rest.data, subOffset);
    else if (subOffset <= rest.data.length) extra = subOffset;
    // Compacted ranges skip positions: count them in.
    if (extra !== undefined) extra = positionInRead({ data: rest.data, end: rest.next, gaps: rest.gaps }, base, extra) - base;
    if (extra === undefined || base + extra > source.tail) throw forkSubOffsetPastTail();
    return base + extra;
  }

  private async sweep(): Promise<void> {
    try {
      const removed = await this.store.sweepExpired(this.now());
      streamsExpired.inc(removed.length);
      for (const path of removed) {
        this.reads.boundaries.forget(path);
        this.hub.publish({ path, start: 0, end: 0, data: null, closed: false, gone: true });
        this.notify({ type: "deleted", path });
      }
    } catch (error) {
      log().error({ event: "sweep_failed", err: error }, "the expiry sweep failed");
    }
  }

  /**
   * Another server committed to a stream. When this server has readers on it
   * and the notice says which bytes were added, they are read once here and
   * published like a local append, so readers at the old tail share them;
   * otherwise the event carries no data and each reader re-reads the store.
   */
  private remoteCommit(change: RemoteCommit): void {
    const { path } = change;
    if (change.gone) this.reads.boundaries.forget(path);
    if (!this.hub.isWatched(path)) return;
    const previous = this.remoteQueue.get(path) ?? Promise.resolve();
    const next = previous.then(async () => {
      let data: Uint8Array | null = null;
      const start = change.start ?? change.tail;
      const size = change.tail - start;
      if (!change.gone && size > 0 && size <= this.options.maxReadBytes) {
        data = await this.store.readRange(path, start, change.tail, size, true).then((read) => read.data, () => null);
        if (data && data.length !== size) data = null;
      }
      this.hub.publish({ path, start: data ? start : change.tail, end: change.tail, data, closed: change.closed, gone: change.gone });
    }).catch((error: unknown) => log().error({ event: "remote_commit_failed", err: error }, "publishing a remote commit failed"));
    this.remoteQueue.set(path, next);
    void next.finally(() => {
      if (this.remoteQueue.get(path) === next) this.remoteQueue.delete(path);
    });
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    const promise = work();
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}
