import { HEADER } from "@rill/protocol";
import type { IncomingHttpHeaders } from "node:http";
import { DEFAULT_KEY_POINTERS, DEFAULT_TOMBSTONE_AGE_SECONDS } from "../domain/compaction-rules.js";
import { badRequest } from "../domain/errors.js";
import type { CompactionPolicy, RetentionPolicy } from "../domain/model.js";
import { header } from "./parse.js";

/** The Rill retention and compaction headers of a PUT (docs/retention.md), or a 400 naming the problem. */

const POSITIVE = /^[1-9][0-9]*$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function wholeNumber(headers: IncomingHttpHeaders, name: string, label: string, pattern: RegExp, what: string): number | null {
  const value = header(headers, name);
  if (value === null) return null;
  const trimmed = value.trim();
  if (!pattern.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    throw badRequest(`${label} must be ${what}, got "${value}"`, "INVALID_HEADER");
  }
  return Number(trimmed);
}

export function parseRetention(headers: IncomingHttpHeaders): RetentionPolicy | null {
  const maxAgeSeconds = wholeNumber(headers, HEADER.rillRetentionAge, "Rill-Retention-Age", POSITIVE, "a whole number of seconds above zero");
  const maxBytes = wholeNumber(headers, HEADER.rillRetentionBytes, "Rill-Retention-Bytes", POSITIVE, "a whole number of bytes above zero");
  return maxAgeSeconds === null && maxBytes === null ? null : { maxAgeSeconds, maxBytes };
}

export function parseCompaction(headers: IncomingHttpHeaders): CompactionPolicy | null {
  const mode = header(headers, HEADER.rillCompaction);
  const keys = header(headers, HEADER.rillCompactionKey);
  const tombstoneAge = wholeNumber(
    headers,
    HEADER.rillCompactionTombstoneAge,
    "Rill-Compaction-Tombstone-Age",
    DECIMAL,
    "a whole number of seconds",
  );
  if (mode === null) {
    if (keys !== null || tombstoneAge !== null) {
      throw badRequest("Rill-Compaction-Key and Rill-Compaction-Tombstone-Age need Rill-Compaction: key", "INVALID_HEADER");
    }
    return null;
  }
  if (mode.trim().toLowerCase() !== "key") {
    throw badRequest(`Rill-Compaction must be "key" (the only compaction Rill has), got "${mode}"`, "INVALID_HEADER");
  }
  return {
    keyPointers: keys === null ? [...DEFAULT_KEY_POINTERS] : parsePointers(keys),
    tombstoneAgeSeconds: tombstoneAge ?? DEFAULT_TOMBSTONE_AGE_SECONDS,
  };
}

/** A comma-separated list of JSON Pointers (RFC 6901), e.g. `/type,/key`. */
function parsePointers(text: string): string[] {
  const pointers = text.split(",").map((p) => p.trim());
  for (const pointer of pointers) {
    if (!pointer.startsWith("/") || /~[^01]|~$/.test(pointer)) {
      throw badRequest(
        `Rill-Compaction-Key must list JSON Pointers such as /type,/key; "${pointer}" is not one`,
        "INVALID_HEADER",
      );
    }
  }
  return pointers;
}
