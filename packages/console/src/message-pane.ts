/**
 * The messages of a stream view: a filter, a list or table (virtualized),
 * "load older" and "jump to offset", the selected message in full with a
 * copy button, and a download of what is loaded as JSON lines.
 */
import { parseFilter, type Filter } from "./filter.js";
import { MessageStore, type Kind, type Message } from "./message-store.js";
import { el, hexDump, preview, renderJson } from "./render.js";
import { VirtualList } from "./virtual-list.js";

export interface MessagePaneHost {
  loadOlder(): Promise<void>;
  jumpTo(offset: string): void;
  readFromStart(): void;
  download(messages: Message[]): void;
}

const MAX_COLUMNS = 12;

export class MessagePane {
  readonly element: HTMLElement;
  store: MessageStore;
  readonly #kind: Kind;
  readonly #host: MessagePaneHost;
  #filter: Extract<Filter, { ok: true }> | null = null;
  #matches: number[] | null = null;
  #view: "list" | "table" = "list";
  #columns: string[] = [];
  #selected: number | null = null;
  #caughtUp = false;

  readonly #filterInput = el("input", { type: "search", class: "message-filter", placeholder: 'Filter: text, or a JSON path like .user == "ada"', "aria-label": "Filter messages", spellcheck: "false" });
  readonly #filterNote = el("span", { class: "small muted", "data-testid": "filter-note" });
  readonly #viewToggle = el("button", { type: "button", class: "secondary", "data-testid": "view-toggle" }, "Table view");
  readonly #jumpInput = el("input", { type: "text", class: "jump-offset", placeholder: "offset", "aria-label": "Jump to offset", spellcheck: "false" });
  readonly #banner = el("div", { class: "older-banner small", "data-testid": "older-banner" });
  readonly #loadOlder = el("button", { type: "button", class: "secondary", "data-testid": "load-older" }, "Load older");
  readonly #tableHead = el("div", { class: "table-head", hidden: true });
  readonly #list: VirtualList;
  readonly #detail = el("aside", { class: "detail", hidden: true, "data-testid": "detail" });
  readonly #empty = el("div", { class: "empty-stream", hidden: true, "data-testid": "empty-stream" });

  constructor(kind: Kind, store: MessageStore, host: MessagePaneHost) {
    this.#kind = kind;
    this.store = store;
    this.#host = host;
    this.#list = new VirtualList((index) => this.#row(index), { "data-testid": "log" });

    this.#filterInput.addEventListener("input", () => this.#applyFilter());
    this.#viewToggle.hidden = kind !== "json";
    this.#viewToggle.addEventListener("click", () => this.#toggleView());
    const jump = el("form", { class: "jump" }, this.#jumpInput, el("button", { type: "submit", class: "secondary" }, "Jump"));
    jump.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.#jumpInput.value.trim()) host.jumpTo(this.#jumpInput.value.trim());
    });
    const download = el("button", { type: "button", class: "secondary", title: "Download the loaded messages (filtered, if a filter is set) as JSON lines" }, "Download .jsonl");
    download.addEventListener("click", () => host.download(this.#visibleMessages()));
    this.#loadOlder.addEventListener("click", () => void this.#older());

    this.element = el(
      "section",
      { class: "messages" },
      el("div", { class: "toolbar" }, this.#filterInput, this.#viewToggle, jump, download),
      el("div", { class: "toolbar-notes" }, this.#filterNote),
      this.#banner,
      el("div", { class: "message-body" }, el("div", { class: "list-column" }, this.#tableHead, this.#list.element, this.#empty), this.#detail),
    );
    this.#renderBanner();
  }

  /** After messages were added at the end (count = how many). */
  appended(count: number, caughtUp: boolean): void {
    this.#caughtUp ||= caughtUp;
    if (this.#matches && this.#filter) {
      const all = this.store.messages;
      for (let i = all.length - count; i < all.length; i++) if (this.#filter.test(all[i]!)) this.#matches.push(i);
    }
    if (this.#view === "table" && this.#columns.length < MAX_COLUMNS) this.#computeColumns();
    this.#refresh();
  }

  /** After the store let go of `count` of its oldest messages, or the whole list changed. */
  reset(): void {
    this.#selected = null;
    this.#detail.hidden = true;
    this.#applyFilter();
  }

  #refresh(options: { keepTop?: number } = {}): void {
    const count = this.#matches ? this.#matches.length : this.store.messages.length;
    this.#list.refresh(count, options);
    const empty = this.#caughtUp && this.store.total === 0;
    this.#empty.hidden = !empty;
    this.#empty.textContent = empty ? "This stream is empty. Messages appear here as soon as they are appended." : "";
    if (this.#filter) {
      this.#filterNote.textContent = `${count.toLocaleString()} of ${this.store.messages.length.toLocaleString()} loaded messages match ${this.#filter.describe}`;
    }
    this.#renderBanner();
  }

  #renderBanner(): void {
    const hidden = this.store.hiddenBefore;
    const older = this.store.olderPage;
    if (older) {
      this.#loadOlder.textContent = `Load older (${this.store.olderCount.toLocaleString()})`;
      const since = this.store.fromStart ? "" : " (counted from the offset this view opened at)";
      this.#banner.replaceChildren(`${hidden.toLocaleString()} earlier messages${since} not shown · `, this.#loadOlder);
    } else if (!this.store.fromStart) {
      const fromStart = el("button", { type: "button", class: "secondary" }, "Read from the start");
      fromStart.addEventListener("click", () => this.#host.readFromStart());
      this.#banner.replaceChildren("Opened at an offset: messages before it are not loaded · ", fromStart);
    } else if (this.store.total > 0) {
      this.#banner.replaceChildren(el("span", { class: "muted" }, `Start of stream · ${this.store.total.toLocaleString()} ${this.#kind === "json" ? "messages" : "chunks"}`));
    } else this.#banner.replaceChildren();
  }

  async #older(): Promise<void> {
    this.#loadOlder.disabled = true;
    const before = this.store.messages.length;
    try {
      await this.#host.loadOlder();
    } finally {
      this.#loadOlder.disabled = false;
    }
    const added = this.store.messages.length - before;
    if (added <= 0) return;
    if (this.#selected !== null) this.#selected += added;
    if (this.#filter) this.#applyFilter();
    else this.#refresh({ keepTop: added });
  }

  #applyFilter(): void {
    const parsed = parseFilter(this.#filterInput.value);
    this.#filterInput.classList.toggle("invalid", parsed !== null && !parsed.ok);
    if (parsed === null || !parsed.ok) {
      this.#filter = null;
      this.#matches = null;
      this.#filterNote.textContent = parsed && !parsed.ok ? parsed.error : "";
      this.#filterNote.className = parsed && !parsed.ok ? "small error" : "small muted";
    } else {
      this.#filter = parsed;
      this.#filterNote.className = "small muted";
      const matches: number[] = [];
      this.store.messages.forEach((message, index) => {
        if (parsed.test(message)) matches.push(index);
      });
      this.#matches = matches;
    }
    if (this.#view === "table") this.#computeColumns();
    this.#list.refresh(0);
    this.#refresh();
    this.#list.scrollToBottom();
  }

  #visibleMessages(): Message[] {
    const all = this.store.messages;
    return this.#matches ? this.#matches.map((index) => all[index]!) : all;
  }

  #toggleView(): void {
    this.#view = this.#view === "list" ? "table" : "list";
    this.#viewToggle.textContent = this.#view === "list" ? "Table view" : "List view";
    this.#list.element.classList.toggle("as-table", this.#view === "table");
    if (this.#view === "table") this.#computeColumns();
    this.#tableHead.hidden = this.#view !== "table";
    this.#list.setRenderer((index) => this.#row(index));
    this.#refresh();
  }

  /** The keys of the loaded (matching) objects, in first-seen order, as columns. */
  #computeColumns(): void {
    const keys = new Set<string>();
    for (const message of this.#visibleMessages()) {
      if (message.value && typeof message.value === "object" && !Array.isArray(message.value)) {
        for (const key of Object.keys(message.value)) {
          keys.add(key);
          if (keys.size >= MAX_COLUMNS) break;
        }
      }
      if (keys.size >= MAX_COLUMNS) break;
    }
    this.#columns = [...keys];
    const template = `90px repeat(${Math.max(1, this.#columns.length)}, minmax(110px, 1fr))`;
    this.#list.element.style.setProperty("--columns", template);
    this.#tableHead.style.gridTemplateColumns = template;
    this.#tableHead.replaceChildren(el("span", {}, "#"), ...this.#columns.map((key) => el("span", { title: key }, key)));
    this.#list.setRenderer((index) => this.#row(index));
  }

  #number(index: number): string {
    const position = this.store.hiddenBefore + index + 1;
    return this.store.fromStart ? `#${position.toLocaleString()}` : `+${position.toLocaleString()}`;
  }

  #row(row: number): HTMLElement {
    const index = this.#matches ? this.#matches[row]! : row;
    const message = this.store.messages[index];
    const element = el("div", { class: `row${index === this.#selected ? " selected" : ""}`, "data-index": String(index) });
    if (!message) return element;
    element.addEventListener("click", () => this.#select(index));
    const number = el("span", { class: "row-number" }, this.#number(index));
    if (this.#view === "table") {
      element.classList.add("table-row");
      element.style.gridTemplateColumns = this.#tableHead.style.gridTemplateColumns;
      const value = message.value as Record<string, unknown> | undefined;
      const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
      element.append(
        number,
        ...this.#columns.map((key) => {
          const cell = isObject && key in value ? preview(value[key]) : "";
          return el("span", { class: "cell", title: cell }, cell);
        }),
      );
      return element;
    }
    // Only the start of a message is shown in its row; a whole 4 MiB text chunk would be laid out for nothing.
    const start = message.text.length > 400 ? message.text.slice(0, 400) : message.text;
    element.append(number, el("span", { class: "row-preview" }, this.#kind === "text" ? start.replace(/\r?\n/g, "⏎ ") : start));
    if (message.lastInChunk) element.append(el("span", { class: "row-offset", title: "offset after this message" }, `→ ${message.chunkEnd}`));
    return element;
  }

  #select(index: number): void {
    this.#selected = index;
    const message = this.store.messages[index]!;
    const copy = el("button", { type: "button", class: "secondary", "data-testid": "copy-message" }, "Copy");
    copy.addEventListener("click", () => void copyText(message.text, copy));
    const close = el("button", { type: "button", class: "secondary" }, "×");
    close.addEventListener("click", () => {
      this.#selected = null;
      this.#detail.hidden = true;
      this.#list.refresh(this.#list.count, { force: true });
    });
    const body =
      this.#kind === "json"
        ? el("div", { class: "json-tree" }, renderJson(message.value))
        : this.#kind === "text"
          ? el("pre", { class: "text-message" }, message.text)
          : el("pre", { class: "hex" }, hexDump(message.data ?? new Uint8Array()));
    const where = message.lastInChunk ? `offset after it: ${message.chunkEnd}` : `in the chunk ending at ${message.chunkEnd}`;
    this.#detail.replaceChildren(
      el("div", { class: "detail-head" }, el("strong", {}, `Message ${this.#number(index)}`), copy, close),
      el("div", { class: "small muted" }, `${message.bytes.toLocaleString()} bytes · ${where}`),
      body,
    );
    this.#detail.hidden = false;
    this.#list.refresh(this.#list.count, { force: true });
  }
}

export async function copyText(text: string, button: HTMLButtonElement): Promise<void> {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    window.prompt("Copy this:", text);
  }
  setTimeout(() => (button.textContent = label), 1200);
}
