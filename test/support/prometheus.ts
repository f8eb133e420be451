/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4),
 * for tests: every line must be a HELP, a TYPE or a well-formed sample of a
 * declared family, or parsing throws with the offending line. Returns the
 * samples, and `value(name, labels)` to read one.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

export interface Exposition {
  families: Map<string, PromFamily>;
  /** The value of the one sample with this name whose labels include `labels`; 0 when there is none. */
  value(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created"];

export function parseExposition(text: string): Exposition {
  const families = new Map<string, PromFamily>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { name, type: "untyped", help: "", samples: [] }));
    return found;
  };
  for (const [index, line] of text.split("\n").entries()) {
    const fail = (why: string) => {
      throw new Error(`exposition line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === "") continue;
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) {
        if (line.startsWith("# HELP") || line.startsWith("# TYPE")) fail("malformed comment");
        continue;
      }
      const [, kind, name, rest] = match as unknown as [string, string, string, string];
      if (!NAME.test(name)) fail("bad metric name");
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) fail("unknown type");
        family(name).type = rest;
      } else family(name).help = rest;
      continue;
    }
    const sample = parseSample(line, fail);
    const owner =
      families.get(sample.name) ??
      SUFFIXES.map((suffix) => (sample.name.endsWith(suffix) ? families.get(sample.name.slice(0, -suffix.length)) : undefined)).find(Boolean);
    if (!owner) fail("sample of an undeclared family");
    owner!.samples.push(sample);
  }
  return {
    families,
    value(name, labels = {}) {
      const matches = [...families.values()]
        .flatMap((f) => f.samples)
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return matches[0]?.value ?? 0;
    },
  };
}

function parseSample(line: string, fail: (why: string) => never): PromSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) fail("no metric name");
  const name = nameMatch![0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest);
      if (!label) fail("bad label");
      rest = rest.slice(label![0].length);
      let value = "";
      for (;;) {
        const char = rest[0];
        if (char === undefined) fail("unterminated label value");
        rest = rest.slice(1);
        if (char === '"') break;
        if (char === "\\") {
          const escaped = rest[0];
          rest = rest.slice(1);
          if (escaped === "n") value += "\n";
          else if (escaped === "\\" || escaped === '"') value += escaped;
          else fail("bad escape in label value");
        } else value += char;
      }
      if (label![1]! in labels) fail("duplicate label");
      labels[label![1]!] = value;
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) fail("expected , or } after a label");
    }
    rest = rest.slice(1);
  }
  const valueMatch = /^ (\S+)( -?\d+)?$/.exec(rest);
  if (!valueMatch) fail("bad value");
  // Prometheus reads values with Go's ParseFloat: Inf and NaN in any letter case.
  const raw = valueMatch![1]!.toLowerCase();
  const value = raw === "+inf" || raw === "inf" ? Infinity : raw === "-inf" ? -Infinity : raw === "nan" ? NaN : Number(raw);
  if (Number.isNaN(value) && raw !== "nan") fail("value is not a number");
  return { name, labels, value };
}
