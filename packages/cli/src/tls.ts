import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { CliError, EXIT } from "./errors.js";

/** How a client verb trusts an https server. */
export interface TlsFlags {
  /** Accept any certificate (self-signed development servers). */
  insecure: boolean;
  /** PEM file of a CA to trust besides the system's (RILL_CA). */
  ca?: string;
}

let installed = false;

/**
 * For https servers, and whenever --insecure or a CA is given: fetch goes
 * through an undici Agent that negotiates HTTP/2 by ALPN (one connection
 * for every request of a verb) and trusts the configured CA, or anything
 * with --insecure. Plain http keeps Node's default dispatcher.
 *
 * undici takes most of a second to load on a busy machine, so it is loaded
 * only here, by the first fetch that needs it: global fetch is wrapped to
 * install the dispatcher first (the client looks fetch up at each call).
 */
export function configureTls(url: string, flags: TlsFlags): void {
  if (installed || (!url.startsWith("https:") && !flags.insecure && flags.ca === undefined)) return;
  let ca: string[] | undefined;
  if (flags.ca !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(flags.ca, "utf8");
    } catch (error) {
      throw new CliError(EXIT.usage, `cannot read the CA file "${flags.ca}": ${(error as Error).message}`);
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new CliError(EXIT.usage, `the CA file "${flags.ca}" holds no PEM certificate`);
    }
    ca = [...rootCertificates, pem];
  }
  installed = true;
  const connect = { ca, rejectUnauthorized: !flags.insecure };
  const builtIn = globalThis.fetch;
  let ready: Promise<void> | undefined;
  globalThis.fetch = async (input, init) => {
    ready ??= import("undici").then(({ Agent, setGlobalDispatcher }) => {
      setGlobalDispatcher(new Agent({ allowH2: true, connect }));
    });
    await ready;
    return builtIn(input, init);
  };
}

const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** The certificate verification failure behind a fetch error, if that is what it was. */
export function certificateError(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CERTIFICATE_ERRORS.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
