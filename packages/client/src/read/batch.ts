/** What a read session hands to the consumption layer. */
import { concatBytes } from "@rill/protocol";
import { fromUtf8, mergeJsonArrayTexts, parseJsonArray, utf8 } from "../body.js";
import type { ReadState } from "./machine.js";

const EMPTY_ARRAY = /^\s*\[\s*\]\s*$/;

/**
 * Bytes or text, converted lazily: catch-up responses arrive as bytes, SSE
 * events as text, and each consumer asks for the form it wants.
 */
export class Payload {
  #bytes: Uint8Array | undefined;
  #text: string | undefined;

  private constructor(bytes: Uint8Array | undefined, text: string | undefined) {
    this.#bytes = bytes;
    this.#text = text;
  }

  static ofBytes(bytes: Uint8Array): Payload {
    return new Payload(bytes, undefined);
  }

  static ofText(text: string): Payload {
    return new Payload(undefined, text);
  }

  static readonly empty = Payload.ofBytes(new Uint8Array(0));

  get isEmpty(): boolean {
    return this.#bytes ? this.#bytes.length === 0 : this.#text!.length === 0;
  }

  /** False for an empty body, and for an empty JSON array in JSON mode. */
  hasContent(json: boolean): boolean {
    if (this.isEmpty) return false;
    return !json || !EMPTY_ARRAY.test(this.text());
  }

  bytes(): Uint8Array {
    this.#bytes ??= utf8(this.#text!);
    return this.#bytes;
  }

  text(): string {
    this.#text ??= fromUtf8(this.#bytes!);
    return this.#text;
  }

  /** The JSON messages of a JSON-mode payload (an array text). */
  items(): unknown[] {
    return this.isEmpty ? [] : parseJsonArray(this.text());
  }

  /** Several payloads as one: JSON arrays merge into one array, bytes concatenate. */
  static join(parts: readonly Payload[], json: boolean): Payload {
    const present = parts.filter((part) => part.hasContent(json));
    if (present.length === 0) return json ? Payload.ofText("[]") : Payload.empty;
    if (present.length === 1) return present[0]!;
    if (json) return Payload.ofText(mergeJsonArrayTexts(present.map((part) => part.text())));
    return Payload.ofBytes(concatBytes(present.map((part) => part.bytes())));
  }
}

/** One delivery: a payload plus the position that follows it. */
export interface Batch extends ReadState {
  payload: Payload;
}
