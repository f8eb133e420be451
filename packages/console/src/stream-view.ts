import { DurableStream, stream, type StreamResponse } from "@rill/client";
import { isJsonContentType, isTextContentType, mediaType } from "@rill/protocol";
import { el, hexDump, preview, relativeTime, renderJson } from "./render.js";

/** Entries kept on screen; older ones are dropped so a busy stream stays fast. */
const MAX_ENTRIES = 1500;
/** Characters of one text chunk shown (a long catch-up arrives as one chunk). */
const MAX_TEXT = 256 * 1024;

export interface StreamViewHost {
  /** The stream's URL for a stream name (key) as the listing reports it. */
  streamUrl(name: string): string;
  /** The console link that reopens this stream from an offset. */
  resumeLink(name: string, offset: string): string;
  /** Called after close or delete, and when new data arrives, so the list can refresh. */
  changed(): void;
  /** Leave the stream view (after delete). */
  home(): void;
}

type Kind = "json" | "text" | "binary";

/**
 * One stream: its metadata and actions, every message from the start offset
 * on (catch-up, then live over SSE), and a composer to append.
 */
export class StreamView {
  readonly element: HTMLElement;
  readonly #name: string;
  readonly #url: string;
  readonly #host: StreamViewHost;
  readonly #handle: DurableStream;
  readonly #abort = new AbortController();
  #response: StreamResponse | null = null;
  #offset: string;
  #kind: Kind = "binary";
  #closed = false;
  readonly #queued = document.createDocumentFragment();
  #bytesSeen = 0;

  readonly #title = el("h1", { class: "stream-name" });
  readonly #badges = el("span", { class: "badges" });
  readonly #meta = el("div", { class: "stream-meta muted small" });
  readonly #offsetText = el("code", { class: "offset", "data-testid": "current-offset" });
  readonly #status = el("span", { class: "live-status", "data-testid": "live-status" }, "connecting…");
  readonly #log = el("div", { class: "log", "data-testid": "log", "aria-live": "polite" });
  readonly #composer = el("form", { class: "composer" });
  readonly #input = el("textarea", { name: "message", rows: "3", spellcheck: "false", "aria-label": "Message to append" });
  readonly #newline = el("input", { type: "checkbox", checked: true });
  readonly #composerStatus = el("span", { class: "muted small", role: "status" });
  readonly #appendButton = el("button", { type: "submit" }, "Append");
  readonly #closeButton = el("button", { type: "button", class: "secondary" }, "Close stream");

  constructor(name: string, startOffset: string, host: StreamViewHost) {
    this.#name = name;
    this.#host = host;
    this.#url = host.streamUrl(name);
    this.#offset = startOffset;
    this.#handle = new DurableStream({ url: this.#url, signal: this.#abort.signal, batching: false });
    this.#title.textContent = name;

    const copyLink = el("button", { type: "button", class: "secondary", title: "Copy a console link that resumes from the current offset" }, "Copy resume link");
    copyLink.addEventListener("click", () => void this.#copy(host.resumeLink(name, this.#offset), copyLink));
    const copyUrl = el("button", { type: "button", class: "secondary", title: "Copy the HTTP URL that reads from the current offset" }, "Copy read URL");
    copyUrl.addEventListener("click", () => void this.#copy(`${this.#url}?offset=${encodeURIComponent(this.#offset)}`, copyUrl));
    const remove = el("button", { type: "button", class: "danger" }, "Delete");
    remove.addEventListener("click", () => void this.#delete());
    this.#closeButton.addEventListener("click", () => void this.#close());

    this.#composer.append(
      this.#input,
      el(
        "div",
        { class: "composer-bar" },
        el("label", { class: "small newline-option" }, this.#newline, " end with a newline"),
        this.#composerStatus,
        this.#appendButton,
      ),
    );
    this.#composer.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#append();
    });
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.#append();
      }
    });

    this.element = el(
      "article",
      { class: "stream-view", "data-stream": name },
      el(
        "header",
        { class: "stream-header" },
        el("div", { class: "title-row" }, this.#title, this.#badges),
        this.#meta,
        el("div", { class: "offset-row small" }, "offset ", this.#offsetText, " · ", this.#status),
        el("div", { class: "actions" }, copyLink, copyUrl, this.#closeButton, remove),
      ),
      this.#log,
      this.#composer,
    );
    this.#offsetText.textContent = startOffset;
  }

  /** Loads the metadata, then reads from the start offset and keeps following. */
  async start(): Promise<void> {
    try {
      const head = await this.#handle.head();
      if (!head.exists) {
        this.#setStatus("not found", "error");
        this.#log.append(el("p", { class: "muted" }, "There is no stream by this name (it may have been deleted or expired)."));
        this.#composer.hidden = true;
        return;
      }
      const contentType = head.contentType ?? "application/octet-stream";
      this.#kind = isJsonContentType(contentType) ? "json" : isTextContentType(contentType) ? "text" : "binary";
      this.#closed = head.streamClosed;
      this.#renderMeta(contentType, head.ttlSeconds, head.expiresAt);
      this.#input.placeholder =
        this.#kind === "json" ? '{"type": "hello"} — one JSON value; Ctrl+Enter to send' : "Text to append; Ctrl+Enter to send";
      (this.#newline.parentElement as HTMLElement).hidden = this.#kind === "json";
      this.#syncClosed();
      await this.#follow();
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      this.#setStatus(describe(error), "error");
    }
  }

  dispose(): void {
    this.#abort.abort();
    this.#response?.cancel();
  }

  async #follow(): Promise<void> {
    const response = await stream({ url: this.#url, offset: this.#offset, live: "sse", signal: this.#abort.signal });
    this.#response = response;
    this.#setStatus("catching up…");
    const after = (meta: { offset: string; upToDate: boolean; streamClosed: boolean }) => {
      if (meta.offset !== this.#offset) this.#host.changed();
      this.#flush();
      this.#offset = meta.offset;
      this.#offsetText.textContent = meta.offset;
      if (meta.streamClosed) {
        this.#closed = true;
        this.#syncClosed();
        this.#setStatus("closed — nothing more will arrive");
      } else if (meta.upToDate) this.#setStatus("live", "live");
    };
    if (this.#kind === "json") {
      response.subscribeJson((batch) => {
        // A long catch-up can deliver far more than is kept on screen: render only the tail of it.
        const skipped = Math.max(0, batch.items.length - MAX_ENTRIES);
        if (skipped > 0) this.#addNote(`${skipped.toLocaleString()} earlier messages not shown`);
        const last = batch.items.length - 1;
        for (let index = skipped; index <= last; index++) {
          this.#addEntry(index === last ? batch.offset : null, this.#jsonEntry(batch.items[index]));
        }
        after(batch);
      });
    } else if (this.#kind === "text") {
      response.subscribeText((chunk) => {
        if (chunk.text.length > MAX_TEXT) this.#addNote(`${(chunk.text.length - MAX_TEXT).toLocaleString()} earlier characters not shown`);
        if (chunk.text.length > 0) this.#addEntry(chunk.offset, el("pre", { class: "text-message" }, chunk.text.slice(-MAX_TEXT)));
        after(chunk);
      });
    } else {
      response.subscribeBytes((chunk) => {
        if (chunk.data.length > 0) {
          this.#addEntry(chunk.offset, el("pre", { class: "hex" }, hexDump(chunk.data, this.#bytesSeen)));
          this.#bytesSeen += chunk.data.length;
        }
        after(chunk);
      });
    }
    response.closed.then(
      () => {
        if (!this.#abort.signal.aborted && !this.#closed) this.#setStatus("stopped");
      },
      (error: unknown) => {
        if (!this.#abort.signal.aborted) this.#setStatus(describe(error), "error");
      },
    );
  }

  #jsonEntry(item: unknown): HTMLElement {
    const isContainer = item !== null && typeof item === "object";
    if (!isContainer) return el("div", { class: "json-message" }, renderJson(item));
    return el(
      "details",
      { class: "json-message", open: true },
      el("summary", { class: "preview" }, preview(item)),
      el("div", { class: "json-tree" }, renderJson(item)),
    );
  }

  /**
   * Queues a message for the log. Offsets belong to the chunks the server
   * sends, so only the last message of a chunk carries one: the offset right
   * after it. Nothing touches the page until #flush(), once per chunk.
   */
  #addEntry(offset: string | null, content: HTMLElement): void {
    this.#queued.append(
      el(
        "div",
        { class: "entry", "data-offset": offset ?? undefined },
        offset === null
          ? null
          : el("div", { class: "entry-meta" }, el("span", { class: "muted", title: "offset after this message: resume here to read what follows" }, `→ ${offset}`)),
        content,
      ),
    );
  }

  /** Puts queued entries on the page in one go, drops the oldest beyond the cap, keeps the view pinned to the bottom. */
  #flush(): void {
    if (this.#queued.childNodes.length === 0) return;
    const nearBottom = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 80;
    this.#log.append(this.#queued);
    let excess = this.#log.childElementCount - MAX_ENTRIES;
    while (excess-- > 0) this.#log.firstElementChild?.remove();
    if (nearBottom) this.#log.scrollTop = this.#log.scrollHeight;
  }

  #addNote(text: string): void {
    this.#queued.append(el("p", { class: "muted small note" }, text));
  }

  async #append(): Promise<void> {
    if (this.#closed) return;
    let text = this.#input.value;
    if (this.#kind === "json") {
      try {
        JSON.parse(text);
      } catch (error) {
        this.#composerStatus.textContent = `Not valid JSON: ${(error as Error).message}`;
        this.#composerStatus.className = "small error";
        return;
      }
    } else {
      if (text === "") return;
      if (this.#newline.checked && !text.endsWith("\n")) text += "\n";
    }
    this.#appendButton.disabled = true;
    try {
      await this.#handle.append(this.#kind === "binary" ? new TextEncoder().encode(text) : text);
      this.#input.value = "";
      this.#composerStatus.textContent = "appended";
      this.#composerStatus.className = "muted small";
    } catch (error) {
      this.#composerStatus.textContent = describe(error);
      this.#composerStatus.className = "small error";
    } finally {
      this.#appendButton.disabled = this.#closed;
      this.#input.focus();
    }
  }

  async #close(): Promise<void> {
    if (!confirm(`Close ${this.#name}? Nothing more can be appended to a closed stream.`)) return;
    try {
      await this.#handle.close();
      this.#closed = true;
      this.#syncClosed();
      this.#host.changed();
    } catch (error) {
      this.#setStatus(describe(error), "error");
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
      this.#setStatus(describe(error), "error");
    }
  }

  async #copy(text: string, button: HTMLButtonElement): Promise<void> {
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      window.prompt("Copy this link:", text);
    }
    setTimeout(() => (button.textContent = label), 1200);
  }

  #renderMeta(contentType: string, ttlSeconds: number | undefined, expiresAt: string | undefined): void {
    const parts = [mediaType(contentType) || contentType, this.#kind === "binary" ? "shown as hex" : null];
    if (ttlSeconds !== undefined) parts.push(`TTL ${ttlSeconds}s`);
    this.#meta.replaceChildren(parts.filter(Boolean).join(" · "), " · ", el("a", { href: this.#url, target: "_blank", rel: "noopener" }, "raw"));
    this.#badges.replaceChildren();
    if (expiresAt) this.#badges.append(el("span", { class: "badge expiry", title: expiresAt }, `expires ${relativeTime(expiresAt)}`));
  }

  #syncClosed(): void {
    this.#badges.querySelector(".closed")?.remove();
    if (this.#closed) this.#badges.prepend(el("span", { class: "badge closed" }, "closed"));
    this.#composer.classList.toggle("disabled", this.#closed);
    this.#input.disabled = this.#closed;
    this.#appendButton.disabled = this.#closed;
    this.#closeButton.disabled = this.#closed;
    if (this.#closed) this.#input.placeholder = "This stream is closed.";
  }

  #setStatus(text: string, tone: "live" | "error" | "" = ""): void {
    this.#status.textContent = text;
    this.#status.className = `live-status ${tone}`;
  }
}

export function describe(error: unknown): string {
  const shaped = error as { status?: number; code?: string; json?: { error?: { message?: string } }; message?: string };
  const detail = shaped?.json?.error?.message;
  if (shaped?.status === 404) return "not found (deleted or expired)";
  if (shaped?.code === "STREAM_CLOSED") return "the stream is closed";
  if (detail) return detail;
  return shaped?.message ?? String(error);
}
