/**
 * A list that keeps only the rows in sight in the DOM: every row has the
 * same height, so the row at any scroll position is a division away and a
 * list of 100,000 messages costs what thirty do. Rows are drawn again when
 * scrolled, resized, or when `refresh()` says the data changed.
 */
import { el } from "./render.js";

export const ROW_HEIGHT = 30;
const OVERSCAN = 8;

export class VirtualList {
  readonly element: HTMLElement;
  readonly #spacer = el("div", { class: "vlist-spacer" });
  readonly #rows = el("div", { class: "vlist-rows" });
  #count = 0;
  #drawn = "";
  #frame = 0;
  #render: (index: number) => HTMLElement;

  constructor(render: (index: number) => HTMLElement, attributes: Record<string, string> = {}) {
    this.#render = render;
    this.element = el("div", { class: "vlist", tabindex: "0", ...attributes }, this.#spacer);
    this.#spacer.append(this.#rows);
    this.element.addEventListener("scroll", () => this.#schedule(), { passive: true });
    new ResizeObserver(() => this.#schedule()).observe(this.element);
  }

  get count(): number {
    return this.#count;
  }

  /** The row range on screen, for tests and the "showing" note. */
  get firstVisible(): number {
    return Math.floor(this.element.scrollTop / ROW_HEIGHT);
  }

  get nearBottom(): boolean {
    return this.element.scrollHeight - this.element.scrollTop - this.element.clientHeight < ROW_HEIGHT * 2;
  }

  /** New row count; stays pinned to the bottom when it was there, unless `keepTop` rows were added above. */
  refresh(count: number, options: { keepTop?: number; force?: boolean } = {}): void {
    const pinned = this.nearBottom && this.#count > 0;
    this.#count = count;
    this.#spacer.style.height = `${count * ROW_HEIGHT}px`;
    if (options.keepTop) this.element.scrollTop += options.keepTop * ROW_HEIGHT;
    else if (pinned) this.element.scrollTop = this.element.scrollHeight;
    if (options.force) this.#drawn = "";
    this.#draw();
  }

  /** A new way to draw rows; they are drawn with it at the next refresh(). */
  setRenderer(render: (index: number) => HTMLElement): void {
    this.#render = render;
    this.#drawn = "";
  }

  scrollToIndex(index: number): void {
    this.element.scrollTop = Math.max(0, index * ROW_HEIGHT - this.element.clientHeight / 3);
    this.#draw();
  }

  scrollToBottom(): void {
    this.element.scrollTop = this.element.scrollHeight;
    this.#draw();
  }

  #schedule(): void {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  #draw(): void {
    const height = this.element.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.element.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.#count, Math.ceil((this.element.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const key = `${first}:${last}:${this.#count}`;
    if (key === this.#drawn) return;
    this.#drawn = key;
    const rows: HTMLElement[] = [];
    for (let index = first; index < last; index++) {
      const row = this.#render(index);
      row.style.top = `${index * ROW_HEIGHT}px`;
      row.style.height = `${ROW_HEIGHT}px`;
      rows.push(row);
    }
    this.#rows.replaceChildren(...rows);
  }
}
