import { DurableStream, stream, type JsonBatchMeta, type StreamResponse } from "@rill/client";
import { isJsonContentType, isTextContentType, mediaType } from "@rill/protocol";
import { ConnectionWatch } from "./connection.js";
import { MessagePane, copyText } from "./message-pane.js";
import { INITIAL_KEEP, MAX_KEPT, MessageStore, type Kind, type Message, type Page } from "./message-store.js";
import { RateChart } from "./rate-chart.js";
import { el, hexDump, relativeTime } from "./render.js";
import { listingFacts, renderFacts, type Facts } from "./stream-facts.js";
import { Composer } from "./composer.js";
import { describe } from "./describe.js";

export interface StreamViewHost {
  /** The stream's URL for a stream name (key) as the listing reports it. */
  streamUrl(name: string): string;
  /** The console link (fragment) that opens a stream, from an offset if given. */
  streamHash(name: string, offset?: string): string;
  /** URL path of the stream namespace, for the listing. */
  streamsPath: string;
  /** Called after close or delete, and when new data arrives, so the list can refresh. */
  changed(): void;
  /** Leave the stream view (after delete). */
  home(): void;
  /** Fill the create form with this name (for a stream that does not exist). */
  offerCreate(name: string): void;
}

/** The client retries a lost server without end; at most this long between attempts, so a restart is noticed soon. */
const RECONNECT = { initialDelay: 200, maxDelay: 3000 };

/**
 * One stream: its facts and actions, its messages (catch-up, then live over
 * SSE, older pages on demand), the connection's state, a live rate chart,
 * and a composer to append.
 */
export class StreamView {
  readonly element: HTMLElement;
  readonly #name: string;
  readonly #url: string;
  readonly #host: StreamViewHost;
  readonly #abort = new AbortController();
  readonly #connection = new ConnectionWatch(this.#abort.signal);
  readonly #handle: DurableStream;
  readonly #chart = new RateChart();
  #response: StreamResponse | null = null;
  #startOffset: string;
  #offset: string;
  #kind: Kind = "binary";
  #closed = false;
  #caughtUp = false;
  #problem: string | null = null;
  #facts: Facts | null = null;
  #pane: MessagePane | null = null;
  #store: MessageStore;
  #factsTimer: ReturnType<typeof setTimeout> | undefined;

  readonly #title = el("h1", { class: "stream-name" });
  readonly #badges = el("span", { class: "badges" });
  readonly #factsBox = el("div", { class: "facts-box" });
  readonly #status = el("span", { class: "live-status", "data-testid": "live-status", "data-state": "connecting" }, "connecting…");
  readonly #actions = el("div", { class: "actions" });
  readonly #main = el("div", { class: "stream-main" });
  readonly #composer: Composer;
  readonly #closeButton = el("button", { type: "button", class: "secondary" }, "Close stream");

  constructor(name: string, startOffset: string, host: StreamViewHost) {
    this.#name = name;
    this.#host = host;
    this.#url = host.streamUrl(name);
    this.#startOffset = startOffset;
    this.#offset = startOffset;
    this.#store = new MessageStore(startOffset === "-1");
    this.#handle = new DurableStream({ url: this.#url, signal: this.#abort.signal, batching: false, fetch: this.#connection.fetch, backoffOptions: { maxRetries: 3 } });
    this.#composer = new Composer(this.#handle);
    this.#title.textContent = name;
    this.#connection.onChange(() => this.#renderStatus());

    const copyLink = el("button", { type: "button", class: "secondary", title: "Copy a console link that resumes from the current offset" }, "Copy resume link");
    copyLink.addEventListener("click", () => void copyText(`${location.origin}${location.pathname}${host.streamHash(name, this.#offset)}`, copyLink));
    const copyUrl = el("button", { type: "button", class: "secondary", title: "Copy the HTTP URL that reads from the current offset" }, "Copy read URL");
    copyUrl.addEventListener("click", () => void copyText(`${this.#url}?offset=${encodeURIComponent(this.#offset)}`, copyUrl));
    const remove = el("button", { type: "button", class: "danger" }, "Delete");
    remove.addEventListener("click", () => void this.#delete());
    this.#closeButton.addEventListener("click", () => void this.#close());
    this.#actions.append(copyLink, copyUrl, this.#closeButton, remove);
    this.#actions.hidden = true;

    this.element = el(
      "article",
      { class: "stream-view", "data-stream": name },
      el(
        "header",
        { class: "stream-header" },
        el("div", { class: "title-row" }, this.#title, this.#badges, el("span", { class: "spacer" }), this.#status),
        el("div", { class: "header-grid" }, this.#factsBox, this.#chart.element),
        this.#actions,
      ),
      this.#main,
      this.#composer.element,
    );
    this.#composer.element.hidden = true;
  }

  /** Loads the metadata, then reads from the start offset and keeps following. */
  async start(): Promise<void> {
    try {
      const head = await this.#handle.head();
      if (!head.exists) return this.#missing();
      const contentType = head.contentType ?? "application/octet-stream";
      this.#kind = isJsonContentType(contentType) ? "json" : isTextContentType(contentType) ? "text" : "binary";
      this.#closed = head.streamClosed;
      this.#facts = { contentType: mediaType(contentType) || contentType, tailOffset: head.offset ?? "", closed: head.streamClosed, ttlSeconds: head.ttlSeconds, expiresAt: head.expiresAt, forks: [] };
      if (head.expiresAt) this.#badges.append(el("span", { class: "badge expiry", title: head.expiresAt }, `expires ${relativeTime(head.expiresAt)}`));
      this.#actions.hidden = false;
      this.#composer.configure(this.#kind);
      this.#composer.element.hidden = false;
      this.#pane = new MessagePane(this.#kind, this.#store, {
        loadOlder: () => this.#loadOlder(),
        jumpTo: (offset) => (location.hash = this.#host.streamHash(this.#name, offset)),
        readFromStart: () => (location.hash = this.#host.streamHash(this.#name)),
        download: (messages) => this.#download(messages),
      });
      this.#main.replaceChildren(this.#pane.element);
      this.#syncClosed();
      void this.#refreshFacts();
      await this.#follow();
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      this.#fail(error);
    }
  }

  dispose(): void {
    this.#abort.abort();
    this.#response?.cancel();
    this.#chart.dispose();
    clearTimeout(this.#factsTimer);
  }

  #missing(): void {
    this.#problem = "not found";
    this.#renderStatus();
    const create = el("button", { type: "button" }, "Create it");
    create.addEventListener("click", () => this.#host.offerCreate(this.#name));
    this.#chart.element.hidden = true;
    this.#main.replaceChildren(
      el(
        "div",
        { class: "missing-stream", "data-testid": "missing-stream" },
        el("h2", {}, "No stream by this name"),
        el("p", { class: "muted" }, `There is no stream at ${this.#url}. It may have been deleted or may have expired, or it was never created.`),
        create,
      ),
    );
  }

  #fail(error: unknown): void {
    this.#problem = describe(error);
    this.#renderStatus();
    if (!this.#pane) this.#main.replaceChildren(el("p", { class: "problem error", "data-testid": "problem" }, this.#problem));
  }

  #renderStatus(): void {
    const state = this.#problem ? "error" : this.#closed && this.#caughtUp ? "closed" : this.#connection.state === "connected" && this.#caughtUp ? "live" : this.#connection.state;
    const since = this.#connection.failingSince === null ? 0 : Math.round((Date.now() - this.#connection.failingSince) / 1000);
    const text: Record<string, string> = {
      error: this.#problem ?? "",
      closed: "closed · nothing more will arrive",
      live: "connected · live",
      connected: "connected · catching up…",
      connecting: "connecting…",
      reconnecting: `reconnecting… (server unreachable${since > 0 ? ` for ${since}s` : ""})`,
      offline: `offline · server unreachable for ${since}s, still retrying`,
    };
    this.#status.textContent = text[state] ?? state;
    this.#status.dataset.state = state;
    this.#status.className = `live-status ${state}`;
  }

  async #follow(): Promise<void> {
    const response = await stream({ url: this.#url, offset: this.#offset, live: "sse", signal: this.#abort.signal, fetch: this.#connection.fetch, backoffOptions: RECONNECT });
    this.#response = response;
    this.#renderStatus();
    this.#subscribe(response, (messages, meta) => this.#received(messages, meta));
    response.closed.then(
      () => this.#renderStatus(),
      (error: unknown) => {
        if (!this.#abort.signal.aborted) this.#fail(error);
      },
    );
  }

  /** Turns what a read delivers into messages: JSON items, text chunks, or binary chunks. */
  #subscribe(response: StreamResponse, deliver: (messages: Message[], meta: JsonBatchMeta) => void): void {
    if (this.#kind === "json") {
      const encoder = new TextEncoder();
      response.subscribeJson((batch) => {
        const last = batch.items.length - 1;
        deliver(
          batch.items.map((value, index) => {
            const text = JSON.stringify(value) ?? "null";
            return { text, value, bytes: encoder.encode(text).length, chunkEnd: batch.offset, lastInChunk: index === last };
          }),
          batch,
        );
      });
    } else {
      const decoder = new TextDecoder();
      response.subscribeBytes((chunk) => {
        const text = this.#kind === "text" ? decoder.decode(chunk.data) : hexDump(chunk.data.subarray(0, 32), 0, 32);
        const message: Message = { text, data: this.#kind === "binary" ? chunk.data : undefined, bytes: chunk.data.length, chunkEnd: chunk.offset, lastInChunk: true };
        deliver(chunk.data.length > 0 ? [message] : [], chunk);
      });
    }
  }

  #received(messages: Message[], meta: JsonBatchMeta): void {
    const live = this.#caughtUp;
    this.#store.add(this.#offset, meta.offset, messages, live && this.#kind === "json");
    if (live) this.#chart.record(messages.length, messages.reduce((sum, message) => sum + message.bytes, 0));
    const dropped = this.#store.trim(live ? MAX_KEPT : INITIAL_KEEP);
    if (meta.offset !== this.#offset) this.#host.changed();
    this.#offset = meta.offset;
    if (meta.upToDate) this.#caughtUp = true;
    if (meta.streamClosed) {
      this.#closed = true;
      this.#syncClosed();
    }
    if (dropped > 0) this.#pane?.reset();
    else this.#pane?.appended(messages.length, this.#caughtUp);
    if (this.#facts) this.#facts.tailOffset = meta.offset;
    this.#renderFacts();
    this.#renderStatus();
    this.#scheduleFacts();
  }

  /** Reads the page holding the messages just before those in memory again, from its start offset. */
  async #loadOlder(): Promise<void> {
    const page = this.#store.olderPage;
    if (!page) return;
    const messages = await this.#readPage(page);
    this.#store.prepend(page, messages);
  }

  /**
   * A page's messages up to the oldest one kept in memory, read from the
   * page's start: JSON messages are counted, text and binary chunks are cut
   * at the page's byte length (a re-read may return more than the page).
   */
  async #readPage(page: Page): Promise<Message[]> {
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    const response = await stream({ url: this.#url, offset: page.start, live: false, signal: abort.signal, fetch: this.#connection.fetch, backoffOptions: RECONNECT });
    const collected: Message[] = [];
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      this.#subscribe(response, (messages, meta) => {
        const wanted = page.count - page.kept;
        for (const message of messages) {
          if (this.#kind === "json" ? collected.length >= wanted : bytes >= page.bytes) break;
          collected.push(message);
          bytes += message.bytes;
        }
        const done = this.#kind === "json" ? collected.length >= wanted : bytes >= page.bytes;
        if (done || meta.offset === page.end || meta.upToDate) resolve();
      });
      response.closed.then(resolve, reject);
    }).finally(() => {
      response.cancel();
      this.#abort.signal.removeEventListener("abort", onAbort);
    });
    // Offsets are known only at the page's end; every message read here lies within [start, end).
    const wholePage = page.kept === 0;
    collected.forEach((message, index) => Object.assign(message, { chunkEnd: page.end, lastInChunk: wholePage && index === collected.length - 1 }));
    const last = collected.at(-1);
    if (this.#kind !== "json" && last && bytes > page.bytes) Object.assign(last, cutChunk(last, last.bytes - (bytes - page.bytes), this.#kind));
    return collected;
  }

  #scheduleFacts(): void {
    if (this.#factsTimer !== undefined) return;
    this.#factsTimer = setTimeout(() => {
      this.#factsTimer = undefined;
      void this.#refreshFacts();
    }, 1000);
  }

  async #refreshFacts(): Promise<void> {
    if (!this.#facts) return;
    const listing = await listingFacts(this.#connection.fetch, this.#host.streamsPath, this.#name, this.#abort.signal);
    if (this.#abort.signal.aborted || !this.#facts) return;
    Object.assign(this.#facts, listing);
    this.#renderFacts();
  }

  #renderFacts(): void {
    if (!this.#facts) return;
    this.#facts.closed = this.#closed;
    const total = this.#store.total;
    const unit = this.#kind === "json" ? "" : total === 1 ? " chunk" : " chunks";
    const count = this.#store.fromStart ? `${total.toLocaleString()}${unit}${this.#caughtUp ? "" : " so far"}` : "unknown (opened at an offset)";
    this.#factsBox.replaceChildren(renderFacts(this.#facts, count, (name) => this.#host.streamHash(name)));
  }

  #download(messages: Message[]): void {
    const loadedFrom = this.#store.pages.find((page) => page.kept > 0)?.start ?? this.#startOffset;
    const first = loadedFrom === "-1" ? "start" : loadedFrom;
    const last = messages.at(-1)?.chunkEnd ?? this.#offset;
    const parts: BlobPart[] =
      this.#kind === "json" ? messages.map((message) => `${message.text}\n`) : messages.map((message) => (message.data ? new Uint8Array(message.data) : message.text));
    const blob = new Blob(parts, { type: this.#kind === "json" ? "application/x-ndjson" : "application/octet-stream" });
    const link = el("a", { href: URL.createObjectURL(blob), download: `${this.#name.replace(/[^\w.-]+/g, "_")}_${first}_${last}.${this.#kind === "json" ? "jsonl" : this.#kind === "text" ? "txt" : "bin"}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  async #close(): Promise<void> {
    if (!confirm(`Close ${this.#name}? Nothing more can be appended to a closed stream.`)) return;
    try {
      await this.#handle.close();
      this.#closed = true;
      this.#syncClosed();
      this.#host.changed();
    } catch (error) {
      this.#fail(error);
    }
  }

  async #delete(): Promise<void> {
    if (!confirm(`Delete ${this.#name} and everything in it?`)) return;
    try {
      this.#response?.cancel();
      await this.#handle.delete();
      this.#host.changed();
      this.#host.home();
    } catch (error) {
      this.#fail(error);
    }
  }

  #syncClosed(): void {
    this.#badges.querySelector(".closed")?.remove();
    if (this.#closed) this.#badges.prepend(el("span", { class: "badge closed" }, "closed"));
    this.#closeButton.disabled = this.#closed;
    this.#composer.setClosed(this.#closed);
    this.#renderStatus();
  }
}

/** The first `length` bytes of a text or binary chunk (a re-read can return more than the page held). */
function cutChunk(message: Message, length: number, kind: Kind): Partial<Message> {
  if (kind === "binary" && message.data) {
    const data = message.data.subarray(0, length);
    return { data, bytes: length, text: hexDump(data.subarray(0, 32), 0, 32) };
  }
  const bytes = new TextEncoder().encode(message.text).subarray(0, length);
  return { text: new TextDecoder().decode(bytes), bytes: length };
}
