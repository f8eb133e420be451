import { localCertificate, type TlsMaterial } from "@rill/server";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

/** The TLS flags of `rill serve`. */
export interface ServeTlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned: boolean;
  h2c: boolean;
}

/** Where the certificate comes from, readable again on SIGHUP. */
export interface TlsSource {
  load(): TlsMaterial;
  /** One line about the certificate just loaded (for the banner and the start event). */
  describe(): string;
}

/** Checks the TLS flags together; null when the server runs without TLS. */
export function tlsSource(flags: ServeTlsFlags, dataDir: string): TlsSource | null {
  const files = flags.tlsCert !== undefined || flags.tlsKey !== undefined;
  if (files && flags.tlsSelfSigned) throw new Error("--tls-self-signed makes its own certificate; drop --tls-cert/--tls-key (or it)");
  if (flags.h2c && (files || flags.tlsSelfSigned)) {
    throw new Error("--h2c is cleartext HTTP/2 for use behind a TLS-terminating proxy; with a certificate the server already speaks HTTP/2 over TLS");
  }
  if (files) {
    if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new Error("--tls-cert and --tls-key go together");
    const certPath = flags.tlsCert;
    const keyPath = flags.tlsKey;
    let fingerprint = "";
    return {
      load() {
        const material = { cert: readPem(certPath, "certificate"), key: readPem(keyPath, "key") };
        fingerprint = check(material, certPath, keyPath);
        return material;
      },
      describe: () => `${certPath}, SHA-256 ${fingerprint}`,
    };
  }
  if (flags.tlsSelfSigned) {
    let described = "";
    return {
      load() {
        const local = localCertificate(dataDir);
        described =
          `self-signed certificate for localhost, ${local.created ? "created" : "reused"}: ${local.certPath}, ` +
          `SHA-256 ${local.fingerprint}`;
        return local;
      },
      describe: () => described,
    };
  }
  return null;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the TLS ${what} "${path}": ${(error as Error).message}`);
  }
}

/** Fails with a message naming the file when it is not what it should be; returns the fingerprint. */
function check(material: { cert: string; key: string }, certPath: string, keyPath: string): string {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(material.cert);
  } catch {
    throw new Error(`not a PEM certificate: "${certPath}"`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(material.key))) {
      throw new Error(`the key "${keyPath}" does not belong to the certificate "${certPath}"`);
    }
  } catch (error) {
    if ((error as Error).message.startsWith("the key")) throw error;
    throw new Error(`not a PEM private key: "${keyPath}"`);
  }
  return x509.fingerprint256;
}
