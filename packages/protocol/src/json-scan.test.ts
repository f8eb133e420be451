import { describe, expect, it } from "vitest";
import { frameJsonBody, JsonModeError } from "./json-mode.js";
import { JsonScanError, scanJson } from "./json-scan.js";

const encode = (text: string) => new TextEncoder().encode(text);
const fatal = new TextDecoder("utf-8", { fatal: true });

/** What the server accepted before the scanner: a fatal TextDecoder (which drops a BOM), then JSON.parse. */
function acceptedByParse(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(fatal.decode(bytes)) };
  } catch {
    return { ok: false };
  }
}

function acceptedByScan(bytes: Uint8Array): boolean {
  try {
    scanJson(bytes, 0, bytes.length);
    return true;
  } catch (error) {
    if (!(error instanceof JsonScanError)) throw error;
    return false;
  }
}

/** A small seeded generator, so a failing case can be reproduced from its seed. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]! };
}

const SPACES = ["", "", "", " ", "\n", "\t", "\r\n  "];
const STRING_PARTS = ["a", "xyz", " ", ",", "]", "}", "[", "{", ":", "é", "ü", "漢", "😀", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\b", "\\f", "\\r", "\\u00e9", "\\ud800", "\\uDFFF"];
const NUMBERS = ["0", "-0", "1", "-12", "3.25", "1e3", "1E-7", "-0.5e+10", "12345678901234567890", "0.0"];

function jsonText(r: ReturnType<typeof random>, depth: number): string {
  const space = () => r.pick(SPACES);
  const kind = depth > 3 ? r.int(4) : r.int(6);
  switch (kind) {
    case 0:
      return r.pick(NUMBERS);
    case 1:
      return r.pick(["true", "false", "null"]);
    case 2:
    case 3: {
      let text = "";
      for (let k = r.int(5); k > 0; k--) text += r.pick(STRING_PARTS);
      return `"${text}"`;
    }
    case 4: {
      const items = Array.from({ length: r.int(4) }, () => space() + jsonText(r, depth + 1) + space());
      return `[${items.join(",")}${items.length === 0 ? space() : ""}]`;
    }
    default: {
      const members = Array.from({ length: r.int(4) }, () => `${space()}${jsonText(r, 99).replace(/^[^"].*$/s, '"k"')}${space()}:${space()}${jsonText(r, depth + 1)}${space()}`);
      return `{${members.join(",")}}`;
    }
  }
}

/** One random edit: a byte removed, inserted or replaced (JSON punctuation, letters, bytes of 0x80 and up), or a cut. */
function mutate(r: ReturnType<typeof random>, bytes: Uint8Array): Uint8Array {
  const at = r.int(bytes.length + 1);
  const noise = [0x22, 0x5c, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x2d, 0x2e, 0x65, 0x20, 0x0a, 0x01, 0x74, 0x6e, 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff];
  const out = Array.from(bytes);
  switch (r.int(4)) {
    case 0:
      out.splice(at, 1);
      break;
    case 1:
      out.splice(at, 0, r.pick(noise));
      break;
    case 2:
      out.splice(at, 1, r.pick(noise));
      break;
    default:
      out.length = at;
  }
  return Uint8Array.from(out);
}

describe("scanJson", () => {
  it("accepts exactly what a fatal UTF-8 decode followed by JSON.parse accepts (10,000 random and mutated texts)", () => {
    let accepted = 0;
    let refused = 0;
    for (let seed = 1; seed <= 5_000; seed++) {
      const r = random(seed);
      const valid = encode(r.pick(SPACES) + jsonText(r, 0) + r.pick(SPACES));
      let edited = valid;
      for (let k = 1 + r.int(2); k > 0; k--) edited = mutate(r, edited);
      for (const bytes of [valid, edited]) {
        // A leading BOM is frameJsonBody's to drop; the scanner sees the text after it.
        const expected = acceptedByParse(bytes).ok && !(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf);
        const actual = acceptedByScan(bytes);
        if (actual !== expected) throw new Error(`seed ${seed}: scan ${actual}, JSON.parse ${expected} on ${JSON.stringify(Array.from(bytes))}`);
        if (actual) accepted++;
        else refused++;
      }
    }
    // Both sides were exercised: the mutations refuse often, the originals are all valid.
    expect(accepted).toBeGreaterThan(5_000);
    expect(refused).toBeGreaterThan(2_000);
  });

  it("reports each element of a top-level array exactly as JSON.parse reads it", () => {
    for (let seed = 1; seed <= 2_000; seed++) {
      const r = random(seed);
      const elements = Array.from({ length: 1 + r.int(6) }, () => jsonText(r, 1));
      const text = `${r.pick(SPACES)}[${elements.map((e) => r.pick(SPACES) + e + r.pick(SPACES)).join(",")}]${r.pick(SPACES)}`;
      const bytes = encode(text);
      const found: unknown[] = [];
      scanJson(bytes, 0, bytes.length, (from, to) => found.push(JSON.parse(fatal.decode(bytes.subarray(from, to)))));
      expect(found, `seed ${seed}: ${text}`).toEqual(JSON.parse(text));
    }
  });

  it("judges UTF-8 inside strings as a fatal TextDecoder does (every 2-byte sequence, 3- and 4-byte ones around each limit)", () => {
    const sequences: number[][] = [];
    for (let lead = 0x80; lead <= 0xff; lead++) for (let second = 0; second <= 0xff; second++) sequences.push([lead, second]);
    for (let lead = 0xe0; lead <= 0xf7; lead++) {
      for (let second = 0x70; second <= 0xc0; second++) {
        for (const third of [0x7f, 0x80, 0xbf, 0xc0]) for (const fourth of [0x22, 0x7f, 0x80, 0xbf, 0xc0]) sequences.push([lead, second, third, fourth]);
      }
    }
    for (const sequence of sequences) {
      const bytes = Uint8Array.from([0x22, ...sequence, 0x22]);
      const expected = acceptedByParse(bytes).ok;
      if (acceptedByScan(bytes) !== expected) throw new Error(`bytes ${sequence.map((b) => b.toString(16)).join(" ")}: scan ${!expected}, decoder ${expected}`);
    }
  });

  it("takes nesting a million levels deep without recursion", () => {
    const depth = 1_000_000;
    const deep = encode(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    expect(acceptedByScan(deep)).toBe(true);
    expect(acceptedByScan(deep.subarray(0, deep.length - 1))).toBe(false);
  });

  it("names the first offending position", () => {
    expect(() => scanJson(encode(`{"a":1,}`), 0, 8)).toThrow(/unexpected "}" at position 7/);
    expect(() => scanJson(encode(`[1 2]`), 0, 5)).toThrow(/unexpected "2" at position 3/);
    expect(() => scanJson(encode(`"abc`), 0, 4)).toThrow(/unexpected end of input/);
    expect(() => scanJson(Uint8Array.from([0x22, 0x61, 0xc3, 0x28, 0x22]), 0, 5)).toThrow(/invalid UTF-8 at position 2/);
  });
});

describe("frameJsonBody on the scanner", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it("frames JSON.stringify output and hand-spaced arrays alike, message by message", () => {
    for (let seed = 1; seed <= 1_000; seed++) {
      const r = random(seed);
      const values = Array.from({ length: 1 + r.int(8) }, () => JSON.parse(jsonText(r, 1)) as unknown);
      const compact = JSON.stringify(values);
      const spaced = `[ ${values.map((v) => JSON.stringify(v, null, r.int(3))).join(" ,\n")} ]`;
      for (const body of [compact, spaced]) {
        const counts = { messages: 0 };
        const framed = text(frameJsonBody(encode(body), { counts }));
        expect(framed.endsWith(",")).toBe(true);
        expect(JSON.parse(`[${framed.slice(0, -1)}]`), `seed ${seed}: ${body}`).toEqual(JSON.parse(body));
        expect(counts.messages).toBe(values.length);
      }
    }
  });

  it("drops a leading byte order mark instead of storing it in the first message", () => {
    const withBom = Uint8Array.from([0xef, 0xbb, 0xbf, ...encode(`[{"a":1},2]`)]);
    expect(text(frameJsonBody(withBom))).toBe(`{"a":1},2,`);
    expect(text(frameJsonBody(Uint8Array.from([0xef, 0xbb, 0xbf, ...encode(`"x"`)])))).toBe(`"x",`);
  });

  it("tells bad UTF-8 from bad JSON", () => {
    expect(() => frameJsonBody(Uint8Array.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]))).toThrow(/not valid UTF-8/);
    expect(() => frameJsonBody(Uint8Array.from([0x5b, 0xff, 0x5d]))).toThrow(/not valid UTF-8/);
    expect(() => frameJsonBody(encode(`[1,]`))).toThrow(JsonModeError);
    expect(() => frameJsonBody(encode(`[1,]`))).toThrow(/not valid JSON: unexpected "]" at position 3/);
  });
});
