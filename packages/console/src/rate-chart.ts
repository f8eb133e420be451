/**
 * Messages and bytes per second that arrived live, over the last two
 * minutes, drawn on a canvas once a second: bars for messages/s, a line for
 * bytes/s (each on its own scale), and the current rates as text.
 */
import { formatBytes } from "@rill/protocol";
import { el } from "./render.js";

const SECONDS = 120;

export class RateChart {
  readonly element: HTMLElement;
  readonly #canvas = el("canvas", { class: "rate-canvas", "data-testid": "rate-chart", width: "600", height: "90" });
  readonly #label = el("span", { class: "rate-label small", "data-testid": "rate-label" }, "no live messages yet");
  readonly #messages = new Float64Array(SECONDS);
  readonly #bytes = new Float64Array(SECONDS);
  #second = Math.floor(Date.now() / 1000);
  readonly #timer: ReturnType<typeof setInterval>;
  /** Live messages counted so far (for tests and the label). */
  totalMessages = 0;

  constructor() {
    this.element = el("div", { class: "rate" }, el("div", { class: "rate-head small muted" }, "Live rate, last 2 min · ", this.#label), this.#canvas);
    this.#timer = setInterval(() => this.draw(), 1000);
    this.draw();
  }

  record(messages: number, bytes: number): void {
    this.#advance();
    const slot = this.#second % SECONDS;
    this.#messages[slot]! += messages;
    this.#bytes[slot]! += bytes;
    this.totalMessages += messages;
  }

  dispose(): void {
    clearInterval(this.#timer);
  }

  /** Clears the slots of the seconds that passed without data. */
  #advance(): void {
    const now = Math.floor(Date.now() / 1000);
    for (let second = Math.max(this.#second + 1, now - SECONDS + 1); second <= now; second++) {
      this.#messages[second % SECONDS] = 0;
      this.#bytes[second % SECONDS] = 0;
    }
    this.#second = Math.max(this.#second, now);
  }

  draw(): void {
    this.#advance();
    const canvas = this.#canvas;
    const context = canvas.getContext("2d");
    if (!context) return;
    const width = canvas.width;
    const height = canvas.height;
    context.clearRect(0, 0, width, height);
    const series = (values: Float64Array) => Array.from({ length: SECONDS }, (_, i) => values[(this.#second - SECONDS + 1 + i + SECONDS * 2) % SECONDS]!);
    const messages = series(this.#messages);
    const bytes = series(this.#bytes);
    const maxMessages = Math.max(1, ...messages);
    const maxBytes = Math.max(1, ...bytes);
    const step = width / SECONDS;

    context.strokeStyle = "#e3e7ed";
    context.beginPath();
    for (const fraction of [0.5, 1]) {
      context.moveTo(0, height - (height - 4) * fraction);
      context.lineTo(width, height - (height - 4) * fraction);
    }
    context.stroke();

    context.fillStyle = "#8fb9e6";
    messages.forEach((value, i) => {
      if (value === 0) return;
      const barHeight = Math.max(1, ((height - 4) * value) / maxMessages);
      context.fillRect(i * step, height - barHeight, Math.max(1, step - 0.5), barHeight);
    });

    if (bytes.every((value) => value === 0)) return this.#labels(messages, bytes, maxMessages, maxBytes);
    context.strokeStyle = "#b5560b";
    context.lineWidth = 1.5;
    context.beginPath();
    bytes.forEach((value, i) => {
      const y = height - 1 - ((height - 6) * value) / maxBytes;
      if (i === 0) context.moveTo(0, y);
      else context.lineTo(i * step, y);
    });
    context.stroke();
    this.#labels(messages, bytes, maxMessages, maxBytes);
  }

  #labels(messages: number[], bytes: number[], maxMessages: number, maxBytes: number): void {
    const canvas = this.#canvas;
    // The last full second is the current rate; the one in progress is still filling.
    const current = messages.at(-2) ?? 0;
    const currentBytes = bytes.at(-2) ?? 0;
    if (this.totalMessages > 0) {
      this.#label.textContent = `${current.toLocaleString()} msg/s · ${formatBytes(currentBytes)}/s (peak ${maxMessages.toLocaleString()} msg/s · ${formatBytes(maxBytes)}/s)`;
    }
    canvas.dataset.lastSecondMessages = String(current);
    canvas.dataset.windowMessages = String(messages.reduce((sum, value) => sum + value, 0));
  }
}
