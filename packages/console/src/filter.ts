/**
 * The message filter: plain text matches anywhere in a message (ignoring
 * case); an expression that starts with "." is a JSON path test, as in jq:
 *
 *   .user == "ada"      .count >= 3      .tags[0] != "x"
 *   .text ~ "hello"     (contains, ignoring case)
 *   .error              (present, and neither null nor false)
 */

export interface Filterable {
  /** The message as text (JSON as sent, or the text chunk). */
  text: string;
  /** The parsed JSON value, for JSON streams. */
  value?: unknown;
}

export type Filter = { ok: true; describe: string; test(message: Filterable): boolean } | { ok: false; error: string };

type Step = string | number;
type Operator = "==" | "!=" | ">=" | "<=" | ">" | "<" | "~";

const OPERATOR = /^\s*(==|!=|>=|<=|>|<|~)\s*/;

export function parseFilter(source: string): Filter | null {
  const query = source.trim();
  if (query === "") return null;
  if (!query.startsWith(".")) {
    const needle = query.toLowerCase();
    return { ok: true, describe: `text contains "${query}"`, test: (message) => message.text.toLowerCase().includes(needle) };
  }
  const parsed = parsePath(query);
  if (typeof parsed === "string") return { ok: false, error: parsed };
  const { path, rest } = parsed;
  if (rest.trim() === "") {
    return { ok: true, describe: `${query} is present`, test: (message) => truthy(lookup(message.value, path)) };
  }
  const match = OPERATOR.exec(rest);
  if (!match) return { ok: false, error: `expected ==, !=, <, <=, >, >= or ~ after ${query.slice(0, query.length - rest.length)}` };
  const operator = match[1] as Operator;
  const literal = rest.slice(match[0].length).trim();
  if (literal === "") return { ok: false, error: `a value is needed after ${operator}` };
  let expected: unknown;
  try {
    expected = JSON.parse(literal);
  } catch {
    // A bare word is a string: .user == ada
    expected = literal;
  }
  return { ok: true, describe: query, test: (message) => compare(lookup(message.value, path), operator, expected) };
}

/** `.a.b[0]["odd key"]` → steps, and whatever follows the path. */
function parsePath(query: string): { path: Step[]; rest: string } | string {
  const path: Step[] = [];
  let index = 0;
  while (index < query.length) {
    const char = query[index]!;
    if (char === ".") {
      const name = /^[A-Za-z_$][\w$-]*/.exec(query.slice(index + 1));
      if (!name) {
        if (index === 0 && /^\.\s*($|[=!<>~])/.test(query)) {
          index += 1;
          continue; // "." alone: the whole message
        }
        if (query[index + 1] === "[") {
          index += 1;
          continue;
        }
        return `not a key after "." at character ${index + 1}`;
      }
      path.push(name[0]);
      index += 1 + name[0].length;
    } else if (char === "[") {
      const close = query.indexOf("]", index);
      if (close === -1) return `missing "]" after character ${index + 1}`;
      const inside = query.slice(index + 1, close).trim();
      if (/^\d+$/.test(inside)) path.push(Number(inside));
      else {
        try {
          const key = JSON.parse(inside) as unknown;
          if (typeof key !== "string") return `[${inside}] is neither an index nor a quoted key`;
          path.push(key);
        } catch {
          return `[${inside}] is neither an index nor a quoted key`;
        }
      }
      index = close + 1;
    } else break;
  }
  return { path, rest: query.slice(index) };
}

function lookup(value: unknown, path: Step[]): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

function truthy(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}

function compare(actual: unknown, operator: Operator, expected: unknown): boolean {
  switch (operator) {
    case "==":
      return equal(actual, expected);
    case "!=":
      return !equal(actual, expected);
    case "~": {
      if (actual === undefined) return false;
      const haystack = typeof actual === "string" ? actual : JSON.stringify(actual);
      return haystack.toLowerCase().includes(String(expected).toLowerCase());
    }
    default: {
      if (typeof actual === "number" && typeof expected === "number") return order(actual, expected, operator);
      if (typeof actual === "string" && typeof expected === "string") return order(actual, expected, operator);
      return false;
    }
  }
}

function order<T extends number | string>(a: T, b: T, operator: ">" | ">=" | "<" | "<="): boolean {
  return operator === ">" ? a > b : operator === ">=" ? a >= b : operator === "<" ? a < b : a <= b;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
