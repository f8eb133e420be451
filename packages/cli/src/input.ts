import { createHash } from "node:crypto";
import { createReadStream, fstatSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { CliError, EXIT } from "./errors.js";

/**
 * Where `rill append` and `rill create` take data from: files, in order, or
 * standard input (`-`). Positions are byte counts across the inputs taken as
 * one sequence, which is what resume state records.
 */
export interface InputSource {
  /** Stable description for the resume key: absolute paths, or "stdin". */
  readonly key: string;
  /** Human label for messages. */
  readonly label: string;
  /** Total size when known (regular files, or stdin redirected from a file). */
  readonly size: number | undefined;
  /** SHA-256 of the first `limit` bytes (at most HEAD_BYTES): tells one input from another. */
  headHash(limit?: number): Promise<string>;
  /** Bytes from `start` to the end, across all inputs. Can be called once. */
  read(start: number): AsyncIterable<Uint8Array>;
}

export const HEAD_BYTES = 64 * 1024;

export function openInputs(paths: readonly string[]): InputSource {
  if (paths.length === 0 || (paths.length === 1 && paths[0] === "-")) return stdinSource();
  if (paths.includes("-")) throw new CliError(EXIT.usage, '"-" (standard input) cannot be combined with files');
  const files = paths.map((path) => {
    const absolute = resolve(path);
    let size: number;
    try {
      const stat = statSync(absolute);
      if (!stat.isFile()) throw new CliError(EXIT.usage, `not a regular file: ${path}`);
      size = stat.size;
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(EXIT.usage, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    return { path: absolute, size };
  });
  return {
    key: files.map((file) => file.path).join("\n"),
    label: paths.join(", "),
    size: files.reduce((sum, file) => sum + file.size, 0),
    async headHash(limit = HEAD_BYTES) {
      const hash = createHash("sha256");
      let remaining = Math.min(limit, HEAD_BYTES);
      for (const file of files) {
        if (remaining <= 0 || file.size === 0) continue;
        for await (const chunk of createReadStream(file.path, { start: 0, end: Math.min(file.size, remaining) - 1 })) {
          hash.update(chunk as Buffer);
        }
        remaining -= Math.min(file.size, remaining);
      }
      return hash.digest("hex");
    },
    async *read(start: number) {
      let skip = start;
      for (const file of files) {
        if (skip >= file.size) {
          skip -= file.size;
          continue;
        }
        for await (const chunk of createReadStream(file.path, { start: skip })) yield chunk as Buffer;
        skip = 0;
      }
    },
  };
}

/**
 * Standard input can be read only once, so its first HEAD_BYTES are kept in
 * memory for the hash and replayed to the reader.
 */
function stdinSource(): InputSource {
  let size: number | undefined;
  try {
    const stat = fstatSync(0);
    if (stat.isFile()) size = stat.size;
  } catch {
    size = undefined;
  }
  const iterator = (process.stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  const fillHead = async () => {
    while (headLength < HEAD_BYTES && !ended) {
      const next = await iterator.next();
      if (next.done) ended = true;
      else {
        head.push(next.value);
        headLength += next.value.length;
      }
    }
  };
  return {
    key: "stdin",
    label: "standard input",
    size,
    async headHash(limit = HEAD_BYTES) {
      await fillHead();
      return createHash("sha256").update(Buffer.concat(head).subarray(0, Math.min(limit, HEAD_BYTES))).digest("hex");
    },
    async *read(start: number) {
      let skip = start;
      const emit = function* (chunk: Buffer) {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          return;
        }
        yield skip > 0 ? chunk.subarray(skip) : chunk;
        skip = 0;
      };
      for (const chunk of head.splice(0)) yield* emit(chunk);
      while (!ended) {
        const next = await iterator.next();
        if (next.done) break;
        yield* emit(next.value);
      }
    },
  };
}

/** Reads a whole input into memory (for `create --file` and single-value JSON appends). */
export async function readAll(source: InputSource, limit = 256 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of source.read(0)) {
    length += chunk.length;
    if (length > limit) throw new CliError(EXIT.usage, `${source.label} is larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, length);
}

/** One unit of input: a line (or a piece of an over-long line) and where it lies. */
export interface InputRecord {
  /** The bytes to append (for JSON lines: the line without its end-of-line). */
  data: Buffer;
  /** Byte position of the record's first byte. */
  start: number;
  /** Byte position just after the record, its end-of-line included. */
  end: number;
}

export interface SplitOptions {
  /**
   * JSON lines: each non-blank line, without its line ending, is one record,
   * however long. Otherwise each line keeps its ending and lines longer than
   * maxRecordBytes are cut into pieces of that size.
   */
  jsonLines: boolean;
  maxRecordBytes: number;
}

/**
 * Splits bytes into records. The result depends only on the bytes after
 * `start` (a record boundary), never on how reads were chunked, so a resumed
 * run sees exactly the records an interrupted one would have. Several files
 * are one continuous sequence, as `cat` would join them.
 */
export async function* splitRecords(
  chunks: AsyncIterable<Uint8Array>,
  start: number,
  options: SplitOptions,
): AsyncGenerator<InputRecord> {
  const max = options.maxRecordBytes;
  // The unfinished line, kept as parts so a very long line is joined only once.
  let parts: Buffer[] = [];
  let partsLength = 0;
  let position = start; // input position of the unfinished line's first byte
  const toRecord = (bytes: Buffer): InputRecord | null => {
    const recordStart = position;
    position += bytes.length;
    if (!options.jsonLines) return { data: bytes, start: recordStart, end: position };
    let line = bytes;
    if (line.length > 0 && line[line.length - 1] === 0x0a) line = line.subarray(0, -1);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (line.every((byte) => byte === 0x20 || byte === 0x09)) return null;
    return { data: line, start: recordStart, end: position };
  };
  for await (const raw of chunks) {
    const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const fits = options.jsonLines || partsLength + chunk.length <= max;
    if (partsLength > 0 && fits && chunk.indexOf(0x0a) === -1) {
      parts.push(chunk);
      partsLength += chunk.length;
      continue;
    }
    const scanned = partsLength; // the parts hold no newline
    const pending = partsLength === 0 ? chunk : Buffer.concat([...parts, chunk]);
    let from = 0;
    for (;;) {
      const newline = pending.indexOf(0x0a, Math.max(from, scanned));
      const lineLength = newline === -1 ? pending.length - from : newline + 1 - from;
      if (!options.jsonLines && lineLength > max) {
        const record = toRecord(pending.subarray(from, from + max));
        from += max;
        if (record) yield record;
        continue;
      }
      if (newline === -1) break;
      const record = toRecord(pending.subarray(from, newline + 1));
      from = newline + 1;
      if (record) yield record;
    }
    parts = from < pending.length ? [pending.subarray(from)] : [];
    partsLength = pending.length - from;
  }
  if (partsLength > 0) {
    const record = toRecord(Buffer.concat(parts));
    if (record) yield record;
  }
}
