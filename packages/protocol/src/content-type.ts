/**
 * Content-type rules shared by client and server.
 * A stream's type is compared by media type only (case-insensitive, parameters
 * such as charset ignored), so `Application/JSON; charset=utf-8` matches
 * `application/json`.
 */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** `type/subtype` in lower case, without parameters; "" when absent. */
export function mediaType(contentType: string | null | undefined): string {
  if (!contentType) return "";
  const semi = contentType.indexOf(";");
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** True when the text is a syntactically valid `type/subtype[; params]`. */
export function isValidContentType(contentType: string): boolean {
  return TOKEN.test(mediaType(contentType));
}

/** JSON mode applies to `application/json` and any `+json` suffix type. */
export function isJsonContentType(contentType: string | null | undefined): boolean {
  const type = mediaType(contentType);
  return type === "application/json" || type.endsWith("+json");
}

/**
 * Content that SSE can carry as UTF-8 text. Everything else is base64-encoded
 * on the wire and announced with `stream-sse-data-encoding: base64`.
 */
export function isTextContentType(contentType: string | null | undefined): boolean {
  const type = mediaType(contentType);
  return (
    type.startsWith("text/") ||
    isJsonContentType(type) ||
    type === "application/x-ndjson" ||
    type === "application/jsonl" ||
    type === "application/xml" ||
    type.endsWith("+xml") ||
    type === "application/javascript" ||
    type === "application/yaml"
  );
}
