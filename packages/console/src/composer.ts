/** The form under a stream view that appends a message (Ctrl+Enter sends). */
import type { DurableStream } from "@rill/client";
import type { Kind } from "./message-store.js";
import { el } from "./render.js";
import { describe } from "./describe.js";

export class Composer {
  readonly element = el("form", { class: "composer" });
  readonly #handle: DurableStream;
  readonly #input = el("textarea", { name: "message", rows: "2", spellcheck: "false", "aria-label": "Message to append" });
  readonly #newline = el("input", { type: "checkbox", checked: true });
  readonly #status = el("span", { class: "muted small", role: "status" });
  readonly #button = el("button", { type: "submit" }, "Append");
  #kind: Kind = "binary";
  #closed = false;

  constructor(handle: DurableStream) {
    this.#handle = handle;
    this.element.append(
      this.#input,
      el("div", { class: "composer-bar" }, el("label", { class: "small newline-option" }, this.#newline, " end with a newline"), this.#status, this.#button),
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#append();
    });
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.#append();
      }
    });
  }

  configure(kind: Kind): void {
    this.#kind = kind;
    this.#input.placeholder = kind === "json" ? '{"type": "hello"} — one JSON value; Ctrl+Enter to send' : "Text to append; Ctrl+Enter to send";
    (this.#newline.parentElement as HTMLElement).hidden = kind === "json";
  }

  setClosed(closed: boolean): void {
    this.#closed = closed;
    this.element.classList.toggle("disabled", closed);
    this.#input.disabled = closed;
    this.#button.disabled = closed;
    if (closed) this.#input.placeholder = "This stream is closed.";
  }

  async #append(): Promise<void> {
    if (this.#closed) return;
    let text = this.#input.value;
    if (this.#kind === "json") {
      try {
        JSON.parse(text);
      } catch (error) {
        this.#say(`Not valid JSON: ${(error as Error).message}`, true);
        return;
      }
    } else {
      if (text === "") return;
      if (this.#newline.checked && !text.endsWith("\n")) text += "\n";
    }
    this.#button.disabled = true;
    try {
      await this.#handle.append(this.#kind === "binary" ? new TextEncoder().encode(text) : text);
      this.#input.value = "";
      this.#say("appended", false);
    } catch (error) {
      this.#say(describe(error), true);
    } finally {
      this.#button.disabled = this.#closed;
      this.#input.focus();
    }
  }

  #say(text: string, error: boolean): void {
    this.#status.textContent = text;
    this.#status.className = error ? "small error" : "muted small";
  }
}
